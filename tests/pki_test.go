package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/tests/harness"
)

// TestPKICommandMakesAReusableDevelopmentPKI runs `healthgate pki` twice and
// checks its output with openssl, an independent reader.
func TestPKICommandMakesAReusableDevelopmentPKI(t *testing.T) {
	openssl := harness.RequireTool(t, "openssl")
	dir := filepath.Join(t.TempDir(), "pki")
	run := func() {
		out, err := exec.Command(harness.Binary(t), "healthgate", "pki", "--out", dir).CombinedOutput()
		if err != nil {
			t.Fatalf("healthgate pki: %v\n%s", err, out)
		}
	}
	run()
	ca1, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	run()
	ca2, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if !bytes.Equal(ca1, ca2) {
		t.Fatal("a second run replaced the CA a browser may already trust")
	}

	for _, c := range []struct{ name, eku string }{
		{"server", "TLS Web Server Authentication"},
		{"device", "TLS Web Client Authentication"},
		{"application", "TLS Web Client Authentication"},
		{"user", "TLS Web Client Authentication"},
	} {
		t.Run(c.name+" chains to the CA with the right usage", func(t *testing.T) {
			crt := filepath.Join(dir, c.name+".crt")
			purpose := map[bool]string{true: "sslserver", false: "sslclient"}[c.name == "server"]
			out, err := exec.Command(openssl, "verify", "-purpose", purpose, "-CAfile", filepath.Join(dir, "ca.crt"), crt).CombinedOutput()
			if err != nil || !strings.Contains(string(out), ": OK") {
				t.Fatalf("openssl verify: %v\n%s", err, out)
			}
			text, _ := exec.Command(openssl, "x509", "-in", crt, "-noout", "-text").CombinedOutput()
			if !strings.Contains(string(text), c.eku) {
				t.Fatalf("%s lacks %q", c.name, c.eku)
			}
			if info, err := os.Stat(filepath.Join(dir, c.name+".key")); err != nil || info.Mode().Perm() != 0o600 {
				t.Fatalf("%s.key: %v mode %v, want 0600", c.name, err, info.Mode())
			}
		})
	}
	t.Run("the browser bundle opens with the printed password", func(t *testing.T) {
		out, err := exec.Command(openssl, "pkcs12", "-in", filepath.Join(dir, "user.p12"), "-passin", "pass:healthgate", "-nokeys").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "CN = allison") {
			t.Fatalf("openssl pkcs12: %v\n%s", err, out)
		}
	})
}
