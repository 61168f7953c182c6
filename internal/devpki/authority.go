// Package devpki makes development and test certificates: a root CA,
// intermediates, a server certificate and client certificates for devices,
// applications and users. It backs `caddy healthgate pki`, the demo and the
// end-to-end tests. It is not a production CA.
package devpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

var serverAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}

// Authority is a CA that can issue certificates.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain holds the intermediates between this authority and the root,
	// this authority first; empty for a root.
	Chain []*x509.Certificate
}

// Leaf is an issued end-entity certificate with its key and the
// intermediates a client sends with it.
type Leaf struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// Options describe a certificate to issue. Zero values give a one-year
// ECDSA P-256 client certificate.
type Options struct {
	CommonName   string
	Organization string
	DNSNames     []string
	IPs          []net.IP
	URIs         []string
	Emails       []string
	// ExtKeyUsage defaults to client authentication.
	ExtKeyUsage []x509.ExtKeyUsage
	NotBefore   time.Time
	NotAfter    time.Time
	// RSABits, when set, makes an RSA key of that size instead of ECDSA.
	RSABits int
	// OCSPServer and CRLDistributionPoints go into the certificate for
	// revocation checks.
	OCSPServer            []string
	CRLDistributionPoints []string
	// Serial is chosen at random when nil.
	Serial *big.Int
}

// NewRoot makes a self-signed root CA.
func NewRoot(commonName string) (*Authority, error) {
	key, err := newKey(0)
	if err != nil {
		return nil, err
	}
	tmpl := caTemplate(commonName)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("devpki: creating root %q: %w", commonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Authority{Cert: cert, Key: key}, nil
}

// Intermediate issues a subordinate CA.
func (a *Authority) Intermediate(commonName string) (*Authority, error) {
	key, err := newKey(0)
	if err != nil {
		return nil, err
	}
	cert, err := a.sign(caTemplate(commonName), key.Public())
	if err != nil {
		return nil, err
	}
	return &Authority{Cert: cert, Key: key, Chain: append([]*x509.Certificate{cert}, a.Chain...)}, nil
}

// Issue makes an end-entity certificate.
func (a *Authority) Issue(o Options) (*Leaf, error) {
	key, err := newKey(o.RSABits)
	if err != nil {
		return nil, err
	}
	tmpl, err := leafTemplate(o, key)
	if err != nil {
		return nil, err
	}
	cert, err := a.sign(tmpl, key.Public())
	if err != nil {
		return nil, err
	}
	return &Leaf{Cert: cert, Key: key, Chain: a.Chain}, nil
}

func leafTemplate(o Options, key crypto.Signer) (*x509.Certificate, error) {
	serial, err := serialOr(o.Serial)
	if err != nil {
		return nil, err
	}
	notBefore := o.NotBefore
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-time.Hour)
	}
	notAfter := o.NotAfter
	if notAfter.IsZero() {
		notAfter = notBefore.Add(366 * 24 * time.Hour)
	}
	eku := o.ExtKeyUsage
	if eku == nil {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: o.CommonName, Organization: nonEmpty(o.Organization)},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		DNSNames:              o.DNSNames,
		IPAddresses:           o.IPs,
		EmailAddresses:        o.Emails,
		OCSPServer:            o.OCSPServer,
		CRLDistributionPoints: o.CRLDistributionPoints,
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	for _, u := range o.URIs {
		parsed, err := url.Parse(u)
		if err != nil {
			return nil, fmt.Errorf("devpki: URI SAN %q: %w", u, err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	return tmpl, nil
}

// SelfSigned makes a self-signed client certificate, as Orthanc's
// instructions do for individually trusted (pinned) client certificates.
func SelfSigned(o Options) (*Leaf, error) {
	key, err := newKey(o.RSABits)
	if err != nil {
		return nil, err
	}
	tmpl, err := leafTemplate(o, key)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("devpki: self-signing %q: %w", o.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Leaf{Cert: cert, Key: key}, nil
}

func (a *Authority) sign(tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, pub, a.Key)
	if err != nil {
		return nil, fmt.Errorf("devpki: issuing %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

func caTemplate(commonName string) *x509.Certificate {
	serial, _ := serialOr(nil)
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"healthgate development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func newKey(rsaBits int) (crypto.Signer, error) {
	if rsaBits > 0 {
		return rsa.GenerateKey(rand.Reader, rsaBits)
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func serialOr(s *big.Int) (*big.Int, error) {
	if s != nil {
		return s, nil
	}
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
