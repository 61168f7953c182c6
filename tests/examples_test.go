package tests

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/devpki"
	"github.com/healthgate/healthgate/tests/harness"
	"github.com/healthgate/healthgate/wasmfilter/wasmtest"
)

// TestScenarioExamplesAdaptAndValidate adapts and validates every
// examples/*.Caddyfile (one per deployment in SCENARIOS.md) as shipped,
// with the /etc/healthgate files they name made in a temporary folder.
func TestScenarioExamplesAdaptAndValidate(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	pki := harness.NewPKI(t)
	etc := t.TempDir()
	write := func(name string, b []byte) {
		t.Helper()
		p := filepath.Join(etc, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyFile := func(name, src string) {
		t.Helper()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		write(name, b)
	}
	copyFile("server.crt", pki.ServerCert)
	copyFile("server.key", pki.ServerKey)
	for _, ca := range []string{"software-ca.pem", "radiology-ca.pem", "orthanc-ca.pem"} {
		copyFile(ca, pki.CAFile)
	}
	gw := pki.Issue(t, devpki.Options{CommonName: "healthgate"})
	copyFile("gateway-client.crt", gw.CertFile)
	copyFile("gateway-client.key", gw.KeyFile)
	var pins []byte
	for _, cn := range []string{"ws-1", "ws-2", "ws-3"} {
		pins = append(pins, devpki.CertPEM(pki.SelfSigned(t, devpki.Options{CommonName: cn}).Cert)...)
	}
	write("pinned-workstations.pem", pins)
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour),
	}, pki.Root.Cert, pki.Root.Key)
	if err != nil {
		t.Fatal(err)
	}
	write("radiology-ca.crl", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl}))
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	write("cws-keys/legacy-pharmacy.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	write("rules/nurse.wasm", wasmtest.Go(t, filepath.Join(root, "wasmfilter", "examples", "nurse")))
	write("rules/hours.wasm", wasmtest.Go(t, filepath.Join(root, "wasmfilter", "examples", "hours")))
	copyFile("rules/hours.vectors.json", filepath.Join(root, "wasmfilter", "examples", "hours", "vectors.json"))

	examples, err := filepath.Glob(filepath.Join(root, "examples", "*.Caddyfile"))
	if err != nil || len(examples) < 4 {
		t.Fatalf("examples: %v %v", examples, err)
	}
	for _, ex := range examples {
		t.Run(filepath.Base(ex)+" adapts and validates", func(t *testing.T) {
			text, err := os.ReadFile(ex)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(etc, filepath.Base(ex))
			if err := os.WriteFile(file, []byte(strings.ReplaceAll(string(text), "/etc/healthgate/", etc+"/")), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(harness.Binary(t), "adapt", "--config", file, "--adapter", "caddyfile", "--validate")
			cmd.Env = append(os.Environ(), "HOME="+etc, "XDG_DATA_HOME="+etc, "XDG_CONFIG_HOME="+etc)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("caddy adapt --validate: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), `"handler":"healthgate"`) {
				t.Fatalf("no healthgate handler in:\n%s", out)
			}
		})
	}
}
