package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/internal/devpki"
	"github.com/healthgate/healthgate/tests/harness"
)

// adaptAndValidate runs `caddy validate` on a Caddyfile and returns its
// output; a failed validation is not a test failure here, callers decide.
func adaptAndValidate(t *testing.T, bin, caddyfile string) string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(caddyfile), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "validate", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	out, _ := cmd.CombinedOutput()
	// Caddy logs JSON: unescape quotes so messages read as written.
	return strings.ReplaceAll(string(out), `\"`, `"`)
}

// TestCaddyfileExampleAdaptsAndValidates adapts and validates
// Caddyfile.example as shipped, with its /etc/healthgate files made in a
// temporary folder.
func TestCaddyfileExampleAdaptsAndValidates(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(root, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	pki := harness.NewPKI(t)
	etc := t.TempDir()
	files := map[string]string{"server.crt": pki.ServerCert, "server.key": pki.ServerKey, "device-ca.pem": pki.CAFile}
	for name, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	device := pki.Issue(t, devpkiOptions("lab-tablet-1"))
	if err := os.WriteFile(filepath.Join(etc, "devices.map"),
		[]byte("# made by the test\nsha256 "+device.SHA256+" device lab-tablet-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(etc, "Caddyfile")
	text := strings.ReplaceAll(string(example), "/etc/healthgate/", etc+"/")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	adapt := exec.Command(harness.Binary(t), "adapt", "--config", file, "--validate")
	adapt.Env = append(os.Environ(), "HOME="+etc, "XDG_DATA_HOME="+etc, "XDG_CONFIG_HOME="+etc, "SANTEDB_SECRET=dev-secret-of-32-bytes-or-more-0000")
	out, err := adapt.CombinedOutput()
	if err != nil {
		t.Fatalf("caddy adapt --validate Caddyfile.example: %v\n%s", err, out)
	}
	for _, want := range []string{`"handler":"healthgate"`, `"verifier":"client_cert"`, `"verifier":"oidc"`, `"policy":"grants"`, `"verifier":"device_basic"`, `"policy":"require_policy"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the adapted config lacks %s", want)
		}
	}
}

func devpkiOptions(cn string) devpki.Options { return devpki.Options{CommonName: cn} }
