package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/tests/harness"
)

// cwsFixture is a CWS gateway in front of a recording upstream, with key
// users made by openssl: alice and bob (2048-bit), whose public keys are in
// Keys (a directory of <user>.pem).
type cwsFixture struct {
	pki     *harness.PKI
	up      *harness.Upstream
	gw      *harness.Gateway
	dir     string // private keys (<user>.key) and scratch files
	keys    string // the gateway's key directory
	openssl string
	curl    string
}

// cwsSite is the site block; the error route answers with the reason code
// so the tests can tell which refusal came back.
func cwsSite(f *cwsFixture, options string) string {
	return siteWith(f.pki, f.up, fmt.Sprintf(`healthgate {
		cws %q {
			%s
		}
	}
	handle_errors {
		respond "{healthgate.reason}" {err.status_code}
	}`, f.keys, options))
}

func newCWSFixture(t *testing.T, options string) *cwsFixture {
	t.Helper()
	f := &cwsFixture{
		pki: harness.NewPKI(t), up: harness.NewUpstream(t), dir: t.TempDir(),
		openssl: harness.RequireTool(t, "openssl"), curl: harness.RequireTool(t, "curl"),
	}
	f.keys = filepath.Join(f.dir, "keys")
	if err := os.Mkdir(f.keys, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"alice", "bob"} {
		f.newKey(t, user)
	}
	f.gw = harness.Start(t, harness.Config{Caddyfile: cwsSite(f, options)})
	return f
}

// newKey makes user.key with openssl and publishes its public key.
func (f *cwsFixture) newKey(t *testing.T, user string) {
	t.Helper()
	key := filepath.Join(f.dir, user+".key")
	f.run(t, f.openssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
	f.run(t, f.openssl, "pkey", "-in", key, "-pubout", "-out", filepath.Join(f.keys, user+".pem"))
}

func (f *cwsFixture) run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// file writes content to a scratch file and returns its path.
func (f *cwsFixture) file(t *testing.T, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// opensslSignature is the documented recipe:
// openssl dgst -sha256 -sign key.pem body | base64 -w0.
func (f *cwsFixture) opensslSignature(t *testing.T, user, digest, bodyFile string) string {
	t.Helper()
	sh := fmt.Sprintf("%q dgst -%s -sign %q %q | base64 -w0", f.openssl, digest, filepath.Join(f.dir, user+".key"), bodyFile)
	return strings.TrimSpace(string(f.run(t, "sh", "-ec", sh)))
}

// curlDo sends a request with curl and returns the status and body.
func (f *cwsFixture) curlDo(t *testing.T, method, path, authorization, bodyFile string, extra ...string) (int, string) {
	t.Helper()
	args := []string{"-sS", "--cacert", f.pki.CAFile, "-X", method, "-w", "\n%{http_code}"}
	if authorization != "" {
		args = append(args, "-H", "Authorization: "+authorization)
	}
	if bodyFile != "" {
		args = append(args, "-H", "Content-Type: application/octet-stream", "--data-binary", "@"+bodyFile)
	}
	args = append(append(args, extra...), f.gw.URL(path))
	out := string(f.run(t, f.curl, args...))
	i := strings.LastIndexByte(out, '\n')
	status, err := strconv.Atoi(out[i+1:])
	if err != nil {
		t.Fatalf("curl output %q", out)
	}
	return status, out[:i]
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestCWSOpenSSLSignatureThroughCurl(t *testing.T) {
	f := newCWSFixture(t, "memory_body 1KiB\n max_body 8MiB")
	small := []byte(`{"inmate":"A-1234","event":"booking"}`)
	large := bytes.Repeat([]byte("DICM\x00\x01\x02"), 3<<20/7) // ~3 MiB: spooled to a temporary file
	empty := f.file(t, "empty", nil)

	tests := []struct {
		name, method string
		body         []byte
	}{
		{"a POST signed by the openssl recipe and sent by curl reaches the upstream", http.MethodPost, small},
		{"a PUT of a body larger than memory_body reaches the upstream byte for byte", http.MethodPut, large},
		{"a GET signed over the empty string reaches the upstream", http.MethodGet, nil},
		{"a DELETE signed over the empty string reaches the upstream", http.MethodDelete, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bodyFile := ""
			signed := empty
			if tt.body != nil {
				bodyFile = f.file(t, "body-"+tt.method, tt.body)
				signed = bodyFile
			}
			auth := "CWS-SHA256 Access=alice, Signature=" + f.opensslSignature(t, "alice", "sha256", signed)
			before := f.up.Count()
			status, _ := f.curlDo(t, tt.method, "/cws/api/inmates", auth, bodyFile)
			if status != http.StatusOK {
				t.Fatalf("status %d, want 200\n%s", status, f.gw.Logs())
			}
			if f.up.Count() != before+1 {
				t.Fatal("the request did not reach the upstream")
			}
			got := f.up.Last()
			if got.BodyLen != int64(len(tt.body)) || got.BodySHA256 != sha256Hex(tt.body) {
				t.Errorf("upstream body: %d bytes sha256 %s, want the %d verified bytes", got.BodyLen, got.BodySHA256, len(tt.body))
			}
			if u := got.Header.Get("X-Healthgate-User"); u != "alice" {
				t.Errorf("X-Healthgate-User = %q, want alice", u)
			}
		})
	}
}

func TestCWSSignHelper(t *testing.T) {
	f := newCWSFixture(t, "")
	bin := harness.Binary(t)
	body := f.file(t, "order.json", []byte(`{"order":"lab","priority":"stat"}`))
	helper := func(t *testing.T, args ...string) string {
		t.Helper()
		return strings.TrimSpace(string(f.run(t, bin, append([]string{"healthgate", "cws-sign", "--key", filepath.Join(f.dir, "alice.key"), "--user", "alice"}, args...)...)))
	}

	t.Run("a header printed by cws-sign and sent by curl is accepted", func(t *testing.T) {
		header := helper(t, body)
		value, ok := strings.CutPrefix(header, "Authorization: ")
		if !ok {
			t.Fatalf("cws-sign printed %q", header)
		}
		if status, reason := f.curlDo(t, http.MethodPost, "/cws/api/orders", value, body); status != http.StatusOK {
			t.Fatalf("status %d (%s), want 200", status, reason)
		}
	})
	t.Run("a signature made by cws-sign verifies with openssl dgst -verify", func(t *testing.T) {
		value := helper(t, "--value", body)
		_, b64, ok := strings.Cut(value, "Signature=")
		if !ok {
			t.Fatalf("cws-sign printed %q", value)
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		sigFile := f.file(t, "order.sig", sig)
		out := f.run(t, f.openssl, "dgst", "-sha256", "-verify", filepath.Join(f.keys, "alice.pem"), "-signature", sigFile, body)
		if strings.TrimSpace(string(out)) != "Verified OK" {
			t.Fatalf("openssl: %s", out)
		}
	})
	t.Run("cws-sign and the openssl recipe give the same signature", func(t *testing.T) {
		want := "CWS-SHA256 Access=alice, Signature=" + f.opensslSignature(t, "alice", "sha256", body)
		if got := helper(t, "--value", body); got != want {
			t.Errorf("cws-sign: %q\nopenssl:  %q", got, want)
		}
	})
}

func TestCWSRefusals(t *testing.T) {
	f := newCWSFixture(t, "max_body 64KiB\n memory_body 4KiB")
	body := []byte(`{"resourceType":"Observation","status":"final"}`)
	bodyFile := f.file(t, "obs.json", body)
	changed := f.file(t, "obs-changed.json", append(bytes.Clone(body[:len(body)-1]), ']'))
	empty := f.file(t, "empty", nil)
	tooLarge := f.file(t, "large.bin", bytes.Repeat([]byte{'x'}, 64<<10+1))
	sig := f.opensslSignature(t, "alice", "sha256", bodyFile)
	sigSHA1 := f.opensslSignature(t, "alice", "sha1", bodyFile)
	sigBob := f.opensslSignature(t, "bob", "sha256", bodyFile)
	sigEmpty := f.opensslSignature(t, "alice", "sha256", empty)
	sigLarge := f.opensslSignature(t, "alice", "sha256", tooLarge)

	tests := []struct {
		name, method, auth, body string
		extra                    []string
		status                   int
		reason                   string
	}{
		{"a body changed by one byte is refused", "POST", "CWS-SHA256 Access=alice, Signature=" + sig, changed, nil, 401, "cws_signature_invalid"},
		{"a signature for another user is refused", "POST", "CWS-SHA256 Access=alice, Signature=" + sigBob, bodyFile, nil, 401, "cws_signature_invalid"},
		{"an algorithm mismatch is refused", "POST", "CWS-SHA256 Access=alice, Signature=" + sigSHA1, bodyFile, nil, 401, "cws_signature_invalid"},
		{"SHA-1 is refused when not enabled", "POST", "CWS-SHA1 Access=alice, Signature=" + sigSHA1, bodyFile, nil, 401, "cws_algorithm_refused"},
		{"a signature truncated by whole base64 quanta is refused", "POST", "CWS-SHA256 Access=alice, Signature=" + sig[:len(sig)-8], bodyFile, nil, 401, "cws_signature_invalid"},
		{"a signature truncated mid-quantum is refused", "POST", "CWS-SHA256 Access=alice, Signature=" + sig[:len(sig)-1], bodyFile, nil, 401, "cws_malformed"},
		{"a signature that is not base64 is refused", "POST", "CWS-SHA256 Access=alice, Signature=" + strings.ReplaceAll(sig, "+", "-"), bodyFile, nil, 401, "cws_malformed"},
		{"an unknown user is refused", "POST", "CWS-SHA256 Access=mallory, Signature=" + sig, bodyFile, nil, 401, "cws_signature_invalid"},
		{"an extra header part is refused", "POST", "CWS-SHA256 Access=alice, Signature=" + sig + ", Nonce=1", bodyFile, nil, 401, "cws_malformed"},
		{"a missing header part is refused", "POST", "CWS-SHA256 Access=alice", bodyFile, nil, 401, "cws_malformed"},
		{"a second Authorization header is refused", "POST", "CWS-SHA256 Access=alice, Signature=" + sig, bodyFile, []string{"-H", "Authorization: Bearer x.y.z"}, 401, "cws_malformed"},
		{"a GET that carries a body is refused", "GET", "CWS-SHA256 Access=alice, Signature=" + sigEmpty, bodyFile, nil, 401, "cws_body_not_allowed"},
		{"a body over max_body is refused with 413", "POST", "CWS-SHA256 Access=alice, Signature=" + sigLarge, tooLarge, nil, 413, "cws_body_too_large"},
		{"a request without credentials is refused", "POST", "", bodyFile, nil, 401, "credentials_missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.up.Count()
			status, reason := f.curlDo(t, tt.method, "/cws/api/observations", tt.auth, tt.body, tt.extra...)
			if status != tt.status || reason != tt.reason {
				t.Errorf("got %d %q, want %d %q", status, reason, tt.status, tt.reason)
			}
			if f.up.Count() != before {
				t.Error("a refused request reached the upstream")
			}
		})
	}
	t.Run("a 401 carries the CWS-SHA256 challenge", func(t *testing.T) {
		resp := do(t, f.pki.Client(nil), http.MethodGet, f.gw.URL("/cws/api"), nil, "")
		if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, `CWS-SHA256 realm="healthgate"`) {
			t.Errorf("WWW-Authenticate = %q", got)
		}
	})
	t.Run("the control request with the same parts is accepted", func(t *testing.T) {
		if status, reason := f.curlDo(t, "POST", "/cws/api/observations", "CWS-SHA256 Access=alice, Signature="+sig, bodyFile); status != 200 {
			t.Fatalf("got %d %q: the refusals above prove nothing", status, reason)
		}
	})
}

func TestCWSReplayProtection(t *testing.T) {
	f := newCWSFixture(t, "replay_window 5m")
	bodyFile := f.file(t, "msg.json", []byte(`{"msg":"1"}`))
	auth := "CWS-SHA256 Access=alice, Signature=" + f.opensslSignature(t, "alice", "sha256", bodyFile)
	date := func(d time.Duration) []string {
		return []string{"-H", "Date: " + time.Now().Add(d).UTC().Format(http.TimeFormat)}
	}
	steps := []struct {
		name   string
		extra  []string
		status int
		reason string
	}{
		{"a request without Date is refused", nil, 401, "cws_date_invalid"},
		{"a request with a stale Date is refused", date(-10 * time.Minute), 401, "cws_date_invalid"},
		{"a first use with a current Date is accepted", date(0), 200, ""},
		{"a replay inside the window is refused", date(0), 401, "cws_replay"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			status, reason := f.curlDo(t, "POST", "/cws/api/messages", auth, bodyFile, s.extra...)
			if status != s.status || (s.status != 200 && reason != s.reason) {
				t.Errorf("got %d %q, want %d %q", status, reason, s.status, s.reason)
			}
		})
	}
}

func TestCWSReloadCannotAlterAKey(t *testing.T) {
	f := newCWSFixture(t, "")
	empty := f.file(t, "empty", nil)
	oldAuth := "CWS-SHA256 Access=alice, Signature=" + f.opensslSignature(t, "alice", "sha256", empty)

	f.newKey(t, "alice") // alice.pem and alice.key replaced
	err := f.gw.Reload(t, harness.Config{Caddyfile: cwsSite(f, "")})
	if err == nil || !strings.Contains(err.Error(), "keys cannot be altered") || !strings.Contains(err.Error(), `\"alice\"`) {
		t.Fatalf("reload error = %v, want the key change of alice refused", err)
	}
	if status, reason := f.curlDo(t, http.MethodGet, "/cws/api", oldAuth, ""); status != 200 {
		t.Errorf("the old key no longer works after the refused reload: %d %q", status, reason)
	}
	newAuth := "CWS-SHA256 Access=alice, Signature=" + f.opensslSignature(t, "alice", "sha256", empty)
	if status, _ := f.curlDo(t, http.MethodGet, "/cws/api", newAuth, ""); status != 401 {
		t.Errorf("the new key is in force after the refused reload: %d", status)
	}
}
