package caddymodule

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/cws"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func TestCWSCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        CWS
		wantErr     string
	}{
		{
			name:  "a key directory alone is enough",
			input: `cws /etc/healthgate/cws-keys`,
			want:  CWS{Dir: "/etc/healthgate/cws-keys"},
		},
		{
			name: "every option is read",
			input: `cws /etc/healthgate/cws-keys {
				keys_file /etc/healthgate/cws-users.txt
				allow_sha1 legacy-lab legacy-pharmacy
				max_body 4GiB
				memory_body 1MiB
				temp_dir /var/spool/healthgate
				replay_window 5m
				replay_cache 5000
				facet application
			}`,
			want: CWS{Dir: "/etc/healthgate/cws-keys", KeysFile: "/etc/healthgate/cws-users.txt",
				SHA1Users: []string{"legacy-lab", "legacy-pharmacy"}, MaxBody: 4 << 30, MemoryBody: 1 << 20,
				TempDir: "/var/spool/healthgate", ReplayWindow: caddy.Duration(5 * time.Minute), ReplayCache: 5000, Facet: "application"},
		},
		{
			name:  "allow_sha1 without users enables SHA-1 site-wide",
			input: "cws {\n keys_file users.txt\n allow_sha1\n}",
			want:  CWS{KeysFile: "users.txt", AllowSHA1: true},
		},
		{name: "no keys at all is refused", input: `cws`, wantErr: "cws: no keys"},
		{name: "two directories are refused", input: `cws a b`, wantErr: `one key directory at most, got also "b"`},
		{name: "an unknown option is refused", input: "cws dir {\n nonce on\n}", wantErr: `unknown option "nonce"`},
		{name: "a max_body that is not a size is refused", input: "cws dir {\n max_body lots\n}", wantErr: `cws max_body "lots"`},
		{name: "a zero memory_body is refused", input: "cws dir {\n memory_body 0\n}", wantErr: `cws memory_body "0"`},
		{name: "a replay_window that is not a duration is refused", input: "cws dir {\n replay_window soon\n}", wantErr: `cws replay_window "soon"`},
		{name: "a negative replay_window is refused", input: "cws dir {\n replay_window -5m\n}", wantErr: `cws replay_window "-5m"`},
		{name: "a replay_cache that is not a count is refused", input: "cws dir {\n replay_cache many\n}", wantErr: `cws replay_cache "many"`},
		{name: "an unknown facet is refused", input: "cws dir {\n facet robot\n}", wantErr: `cws facet "robot"`},
		{name: "an allow_sha1 user that cannot be a user is refused", input: "cws dir {\n allow_sha1 a,b\n}", wantErr: `cws allow_sha1 "a,b"`},
		{name: "keys_file without a file is refused", input: "cws dir {\n keys_file\n}", wantErr: "wrong argument count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got CWS
			if !checkErr(t, unmarshal(&got, tt.input), tt.wantErr) {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(CWS{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// cwsKey makes a 2048-bit key and writes its public half as dir/user.pem.
func cwsKey(t *testing.T, dir, user string) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, user+".pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCWSProvision(t *testing.T) {
	t.Run("a provisioned module verifies a signed request", func(t *testing.T) {
		dir := t.TempDir()
		alice := cwsKey(t, dir, "alice")
		c := &CWS{Dir: dir, Facet: "application"}
		if err := provision(t, c); err != nil {
			t.Fatal(err)
		}
		a, err := cws.Sign(alice, cws.SHA256, "alice", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		r.Header.Set("Authorization", a.String())
		req := pipeline.NewRequest(r, nil, time.Now())
		defer req.Finish()
		if err := c.Verify(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if req.Principal.Application == nil || req.Principal.Application.ID != "alice" {
			t.Errorf("principal %+v, want application alice", req.Principal)
		}
		if got := c.Priority(); got != 30 {
			t.Errorf("Priority() = %d, want 30", got)
		}
	})
	t.Run("a missing key directory fails provisioning and names it", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope")
		err := provision(t, &CWS{Dir: missing})
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "loading cws keys") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("an allow_sha1 user without a key fails provisioning", func(t *testing.T) {
		dir := t.TempDir()
		cwsKey(t, dir, "alice")
		err := provision(t, &CWS{Dir: dir, SHA1Users: []string{"bob"}})
		if err == nil || !strings.Contains(err.Error(), `SHA-1 user "bob" has no key`) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCWSReloadKeepsKeysImmutable(t *testing.T) {
	dir := t.TempDir()
	alice := cwsKey(t, dir, "alice")
	running := &CWS{Dir: dir}
	if err := provision(t, running); err != nil {
		t.Fatal(err)
	}

	t.Run("a reload that adds a user is admitted", func(t *testing.T) {
		cwsKey(t, dir, "bob")
		if err := provision(t, &CWS{Dir: dir}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a reload that changes a user's key is refused and the old key stays in force", func(t *testing.T) {
		cwsKey(t, dir, "alice") // a new key in alice.pem
		err := provision(t, &CWS{Dir: dir})
		var kce *cws.KeyChangedError
		if !errors.As(err, &kce) || !strings.Contains(err.Error(), `"alice"`) {
			t.Fatalf("err = %v, want a *cws.KeyChangedError naming alice", err)
		}
		a, err := cws.Sign(alice, cws.SHA256, "alice", strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", a.String())
		if err := running.Verify(context.Background(), pipeline.NewRequest(r, nil, time.Now())); err != nil {
			t.Fatalf("the running config no longer accepts the old key: %v", err)
		}
	})
	t.Run("the refusal holds for a later reload through a relative path to the same directory", func(t *testing.T) {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(wd, dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := provision(t, &CWS{Dir: rel}); err == nil {
			t.Fatal("a relative path to the same key directory escaped the key history")
		}
	})
}

func TestCWSJSONRoundTrip(t *testing.T) {
	c := CWS{Dir: "/k", SHA1Users: []string{"a"}, MaxBody: 10, ReplayWindow: caddy.Duration(time.Minute)}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"dir":"/k","sha1_users":["a"],"max_body":10,"replay_window":60000000000}`; string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
}

func TestCWSSignCommand(t *testing.T) {
	dir := t.TempDir()
	key := cwsKey(t, dir, "alice")
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "alice.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	bodyFile := filepath.Join(dir, "body.json")
	if err := os.WriteFile(bodyFile, []byte(`{"a":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, args ...string) (string, error) {
		cmd := cwsSignCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetIn(strings.NewReader(stdin))
		cmd.SetArgs(args)
		err := cmd.Execute()
		return strings.TrimSpace(out.String()), err
	}
	verify := func(t *testing.T, header, content string) {
		t.Helper()
		value, ok := strings.CutPrefix(header, "Authorization: ")
		if !ok {
			value = header
		}
		a, err := cws.ParseAuthorization(value)
		if err != nil {
			t.Fatalf("%q: %v", header, err)
		}
		h := a.Algorithm.Hash().New()
		h.Write([]byte(content))
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, a.Algorithm.Hash(), h.Sum(nil), a.Signature); err != nil {
			t.Fatalf("the printed signature does not verify: %v", err)
		}
	}
	t.Run("a body file is signed and the header printed", func(t *testing.T) {
		out, err := run("", "--key", keyFile, "--user", "alice", bodyFile)
		if err != nil || !strings.HasPrefix(out, "Authorization: CWS-SHA256 Access=alice, Signature=") {
			t.Fatalf("out %q, err %v", out, err)
		}
		verify(t, out, `{"a":1}`)
	})
	t.Run("standard input is signed with --value and sha1", func(t *testing.T) {
		out, err := run("from stdin", "--key", keyFile, "--user", "alice", "--algorithm", "sha1", "--value", "-")
		if err != nil || !strings.HasPrefix(out, "CWS-SHA1 Access=alice, ") {
			t.Fatalf("out %q, err %v", out, err)
		}
		verify(t, out, "from stdin")
	})
	for _, tt := range []struct {
		name, want string
		args       []string
	}{
		{"a missing --user is refused", "--key and --user are required", []string{"--key", keyFile}},
		{"an unknown algorithm is refused", "unknown algorithm", []string{"--key", keyFile, "--user", "alice", "--algorithm", "md5"}},
		{"a public key in place of the private key is refused", `PEM block "PUBLIC KEY"`, []string{"--key", filepath.Join(dir, "alice.pem"), "--user", "alice"}},
		{"a user name with a comma is refused", "comma", []string{"--key", keyFile, "--user", "a,b", bodyFile}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := run("", tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
