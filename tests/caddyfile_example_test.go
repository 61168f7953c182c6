package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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

func TestCaddyfileExampleAdaptsAndValidates(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := harness.Binary(t)
	example := filepath.Join(root, "Caddyfile.example")
	adapt := exec.Command(bin, "adapt", "--config", example, "--validate")
	adapt.Dir = filepath.Join(root, "testdata", "example")
	adapt.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := adapt.CombinedOutput()
	if err != nil {
		t.Fatalf("caddy adapt --validate Caddyfile.example: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"handler":"healthgate"`) {
		t.Fatalf("the adapted config has no healthgate handler:\n%s", out)
	}
}
