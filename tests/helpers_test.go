package tests

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/policy/clientcert/clientcerttest"
	"github.com/healthgate/healthgate/tests/harness"
)

// revocationFixture is a real OpenSSL CA with its OCSP responder running,
// a good and a revoked ("bad") client certificate it issued, and what a
// gateway needs to check them: a server certificate and an upstream.
type revocationFixture struct {
	ca        *clientcerttest.CA
	good, bad clientcerttest.Issued
	pki       *harness.PKI
	srv       *harness.Cert
	up        *harness.Upstream
}

// newRevocationFixture starts the CA's responder; the server certificate
// also holds names (see certServer).
func newRevocationFixture(t *testing.T, names ...string) *revocationFixture {
	t.Helper()
	f := &revocationFixture{ca: clientcerttest.New(t)}
	f.good, f.bad = f.ca.Issue("good", "tablet-good"), f.ca.Issue("bad", "tablet-bad")
	f.ca.Revoke("bad")
	f.ca.StartResponder()
	f.pki = harness.NewPKI(t)
	f.srv = certServer(t, f.pki, names...)
	f.up = harness.NewUpstream(t)
	return f
}

// site is the mTLS site host.localhost, which requires a client certificate
// from the CA, maps it to a device by its CN and checks its revocation.
func (f *revocationFixture) site(host, revocation string) string {
	return mtlsSite(host+".localhost", f.srv, f.up, fmt.Sprintf(`healthgate {
		require client_cert
		client_cert {
			trust_pool file %q
			map subject_cn * device {cn}
			revocation %s
		}
	}`, f.ca.CertPEM, revocation))
}

// url is a FHIR read on the site host.localhost of gw.
func (f *revocationFixture) url(gw *harness.Gateway, host string) string {
	return "https://" + host + ".localhost:" + strconv.Itoa(gw.HTTPSPort) + "/Patient/1"
}

// loadPair reads an issued certificate and its key.
func loadPair(t *testing.T, c clientcerttest.Issued) tls.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// send sends a request with the headers and body and returns the response,
// whose body the caller closes; a request that gets no response fails t.
func send(t *testing.T, c *http.Client, method, url string, hdr http.Header, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}
