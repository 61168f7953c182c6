package cws

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/tests/harness"
)

// openssl runs the openssl binary and returns its stdout. A missing binary
// fails the test: interop is the point (HEALTHGATE_ALLOW_SKIP=1 skips).
func openssl(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(harness.RequireTool(t, "openssl"), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// opensslShell runs a pipeline through sh, as the documented recipe does.
func opensslShell(t *testing.T, dir, script string) string {
	t.Helper()
	openssl(t, "version")
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestOpenSSLSignatureVerifies(t *testing.T) {
	tests := []struct {
		name, genkey, pubout, dgst string
		alg                        Algorithm
		method, body               string
	}{
		{"an openssl SHA-256 signature of a POST body verifies (PKIX key)",
			"genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem", "pkey -in key.pem -pubout -out keys/alice.pem",
			"-sha256", SHA256, http.MethodPost, `{"inmate":"1234","event":"booking"}`},
		{"an openssl SHA-256 signature of the empty string verifies for a GET (4096-bit PKCS #1 key, as CorEMR)",
			"genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out key.pem", "rsa -in key.pem -RSAPublicKey_out -out keys/alice.pem",
			"-sha256", SHA256, http.MethodGet, ""},
		{"an openssl SHA-1 signature verifies when SHA-1 is enabled",
			"genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem", "pkey -in key.pem -pubout -out keys/alice.pem",
			"-sha1", SHA1, http.MethodPut, "legacy body\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "keys"), 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "body"), []byte(tt.body))
			sig := opensslShell(t, dir, "openssl "+tt.genkey+" 2>/dev/null && openssl "+tt.pubout+" 2>/dev/null && "+
				"openssl dgst "+tt.dgst+" -sign key.pem body | base64 -w0")
			reg, err := Load(Sources{Dir: filepath.Join(dir, "keys")})
			if err != nil {
				t.Fatal(err)
			}
			v, err := New(Config{Keys: reg, AllowSHA1: tt.alg == SHA1})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(tt.method, "/cws/api", strings.NewReader(tt.body))
			r.Header.Set("Authorization", tt.alg.Scheme()+" Access=alice, Signature="+sig)
			req := pipeline.NewRequest(r, nil, testNow)
			defer req.Finish()
			if err := v.Verify(context.Background(), req); err != nil {
				t.Fatalf("refused: %v", err)
			}
			// And the key openssl made works for our signing helper.
			key, err := ParsePrivateKey(mustRead(t, filepath.Join(dir, "key.pem")))
			if err != nil {
				t.Fatal(err)
			}
			ours, err := Sign(key, tt.alg, "alice", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			// PKCS #1 v1.5 is deterministic: the same key and content give
			// the same signature, byte for byte.
			if got := ours.String(); got != r.Header.Get("Authorization") {
				t.Errorf("our header %q differs from the openssl recipe's %q", got, r.Header.Get("Authorization"))
			}
		})
	}
}

func TestOurSignatureVerifiesWithOpenSSL(t *testing.T) {
	for _, tt := range []struct {
		name, keyFormat, dgst string
		alg                   Algorithm
	}{
		{"a SHA-256 signature made from a PKCS #8 key verifies with openssl dgst -verify", "", "-sha256", SHA256},
		{"a SHA-256 signature made from a PKCS #1 key verifies with openssl dgst -verify", "-traditional", "-sha256", SHA256},
		{"a SHA-1 signature verifies with openssl dgst -verify", "", "-sha1", SHA1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opensslShell(t, dir, "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out gen.pem 2>/dev/null && "+
				"openssl rsa "+tt.keyFormat+" -in gen.pem -out key.pem 2>/dev/null && openssl pkey -in key.pem -pubout -out pub.pem")
			key, err := ParsePrivateKey(mustRead(t, filepath.Join(dir, "key.pem")))
			if err != nil {
				t.Fatal(err)
			}
			content := strings.Repeat("HL7 message\r\n", 1000)
			writeFile(t, filepath.Join(dir, "body"), []byte(content))
			a, err := Sign(key, tt.alg, "alice", strings.NewReader(content))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "sig.bin"), a.Signature)
			out := openssl(t, "dgst", tt.dgst, "-verify", filepath.Join(dir, "pub.pem"), "-signature", filepath.Join(dir, "sig.bin"), filepath.Join(dir, "body"))
			if strings.TrimSpace(string(out)) != "Verified OK" {
				t.Fatalf("openssl says %q", out)
			}
			// A changed body must not verify: the check above can fail.
			writeFile(t, filepath.Join(dir, "body"), []byte(content+"x"))
			cmd := exec.Command("openssl", "dgst", tt.dgst, "-verify", filepath.Join(dir, "pub.pem"), "-signature", filepath.Join(dir, "sig.bin"), filepath.Join(dir, "body"))
			if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "Verification failure") {
				t.Fatalf("openssl verified a changed body: %s", out)
			}
		})
	}
}

func TestParsePrivateKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	opensslShell(t, dir, "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem 2>/dev/null && "+
		"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes256 -pass pass:secret -out enc.pem 2>/dev/null && "+
		"openssl pkey -in ec.pem -pubout -out pub.pem")
	for _, tt := range []struct{ name, file, want string }{
		{"an EC key is refused", "ec.pem", "want RSA"},
		{"an encrypted key is refused", "enc.pem", "encrypted keys are not supported"},
		{"a public key is refused", "pub.pem", `PEM block "PUBLIC KEY"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParsePrivateKey(mustRead(t, filepath.Join(dir, tt.file))); err == nil || !contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
