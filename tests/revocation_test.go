package tests

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/policy/clientcert/clientcerttest"
	"github.com/healthgate/healthgate/tests/harness"
)

// TestRevocation runs the gateway against a real OpenSSL CA: `openssl
// ocsp` answering from the CA's index, and a CRL made by `openssl ca
// -gencrl`, served at the certificates' distribution point or read from a
// file. One site per revocation setting, chosen by Host.
func TestRevocation(t *testing.T) {
	f := newRevocationFixture(t, "ocsp.localhost")
	ca, good, bad, pki, up, site := f.ca, f.good, f.bad, f.pki, f.up, f.site
	gw := harness.Start(t, harness.Config{Caddyfile: site("ocsp", "ocsp hard") +
		site("crl", "crl hard") +
		site("crlfile", fmt.Sprintf("crl hard {\n\t\t\t\tcrl_file %q\n\t\t\t}", ca.CRLFile)) +
		site("down-soft", "ocsp soft {\n\t\t\t\ttimeout 2s\n\t\t\t}") +
		site("down-hard", "ocsp hard {\n\t\t\t\ttimeout 2s\n\t\t\t}") +
		site("down-fallback", "ocsp_then_crl hard")})

	type revocationCase struct {
		name, host string
		cert       clientcerttest.Issued
		status     int
		reason     string
	}
	check := func(t *testing.T, host string, cert clientcerttest.Issued, status int, reason string) {
		t.Helper()
		before := up.Count()
		got, body := call(t, hostClient(pki, gw.HTTPSPort, "", loadPair(t, cert)), f.url(gw, host), nil)
		if got != status || (reason != "" && body != reason) {
			t.Fatalf("got %d %q, want %d %q", got, body, status, reason)
		}
		if reached := up.Count() > before; reached != (status == 200) {
			t.Fatalf("reached the upstream: %v", reached)
		}
		if status == 200 {
			if dev := up.Last().Header.Get("X-Healthgate-Device"); dev != cert.Cert.Subject.CommonName {
				t.Fatalf("device %q", dev)
			}
		}
	}

	run := func(cases []revocationCase) {
		t.Helper()
		for _, tt := range cases {
			t.Run(tt.name, func(t *testing.T) { check(t, tt.host, tt.cert, tt.status, tt.reason) })
		}
	}

	run([]revocationCase{
		{"a good certificate passes the OCSP responder", "ocsp", good, 200, ""},
		{"a revoked certificate is refused by the OCSP responder", "ocsp", bad, 401, "cert_revoked"},
		{"a good certificate passes the CRL at its distribution point", "crl", good, 200, ""},
		{"a revoked certificate is refused by the CRL at its distribution point", "crl", bad, 401, "cert_revoked"},
		{"a revoked certificate is refused by a local CRL file", "crlfile", bad, 401, "cert_revoked"},
		{"a good certificate passes a local CRL file", "crlfile", good, 200, ""},
	})

	t.Run("curl with the revoked certificate is refused", func(t *testing.T) {
		curl := harness.RequireTool(t, "curl")
		out, err := exec.Command(curl, "-sS", "--resolve", "ocsp.localhost:"+strconv.Itoa(gw.HTTPSPort)+":127.0.0.1",
			"--cacert", pki.CAFile, "--cert", bad.CertFile, "--key", bad.KeyFile,
			"-w", " %{http_code}", f.url(gw, "ocsp")).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "cert_revoked 401" {
			t.Fatalf("curl: %v %q", err, out)
		}
	})

	ca.StopResponder()

	run([]revocationCase{
		{"with the responder down, soft mode lets a good certificate pass", "down-soft", good, 200, ""},
		{"with the responder down, hard mode refuses", "down-hard", good, 503, "revocation_unavailable"},
		{"with the responder down, the CRL fallback still refuses a revoked certificate", "down-fallback", bad, 401, "cert_revoked"},
		{"with the responder down, the CRL fallback lets a good certificate pass", "down-fallback", good, 200, ""},
		{"an answer cached while the responder was up still refuses the revoked certificate", "ocsp", bad, 401, "cert_revoked"},
	})
	t.Run("a soft-failed check is logged", func(t *testing.T) {
		if !strings.Contains(gw.Logs(), "revocation status unavailable, soft-fail lets the certificate pass") {
			t.Error("no warning in the gateway log")
		}
	})
}
