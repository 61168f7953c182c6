package clientcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"testing"
	"time"
)

// testNow is the clock of the tests that do not need the real one.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// testCA is a CA made in the test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 96))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// caTemplate is a CA certificate for cn, valid from a year before testNow
// for years after it.
func caTemplate(t testing.TB, cn string, years int, usage x509.KeyUsage) *x509.Certificate {
	t.Helper()
	return &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Hospital"}},
		NotBefore:             testNow.AddDate(-1, 0, 0),
		NotAfter:              testNow.AddDate(years, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              usage,
	}
}

func newRoot(t testing.TB, cn string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := caTemplate(t, cn, 10, x509.KeyUsageCertSign|x509.KeyUsageCRLSign|x509.KeyUsageDigitalSignature)
	return &testCA{cert: sign(t, tmpl, tmpl, key.Public(), key), key: key}
}

func (ca *testCA) intermediate(t testing.TB, cn string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := caTemplate(t, cn, 5, x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
	return &testCA{cert: sign(t, tmpl, ca.cert, key.Public(), ca.key), key: key}
}

// leafOpts shapes a leaf certificate; zero values give a valid clientAuth
// certificate for testNow.
type leafOpts struct {
	cn        string
	eku       []x509.ExtKeyUsage
	notBefore time.Time
	notAfter  time.Time
	dns       []string
	uris      []string
	emails    []string
	org       string
}

func (o leafOpts) template(t testing.TB) *x509.Certificate {
	if o.eku == nil {
		o.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if o.notBefore.IsZero() {
		o.notBefore = testNow.Add(-24 * time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = testNow.AddDate(1, 0, 0)
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial(t),
		Subject:        pkix.Name{CommonName: o.cn},
		NotBefore:      o.notBefore,
		NotAfter:       o.notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    o.eku,
		DNSNames:       o.dns,
		EmailAddresses: o.emails,
	}
	if o.org != "" {
		tmpl.Subject.Organization = []string{o.org}
	}
	for _, u := range o.uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	return tmpl
}

func (ca *testCA) leaf(t testing.TB, o leafOpts) *x509.Certificate {
	t.Helper()
	key := newKey(t)
	return sign(t, o.template(t), ca.cert, key.Public(), ca.key)
}

// selfSigned makes an Orthanc-style self-signed client certificate.
func selfSigned(t testing.TB, o leafOpts) *x509.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := o.template(t)
	return sign(t, tmpl, tmpl, key.Public(), key)
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func pemOf(certs ...*x509.Certificate) string {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return string(b)
}

// fixture reads a certificate from testdata.
func fixture(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("testdata/%s: no PEM", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func b64DER(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }
