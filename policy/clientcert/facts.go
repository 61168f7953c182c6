package clientcert

import (
	"crypto/x509"

	"github.com/healthgate/healthgate/policy/identity"
)

// Facts returns the audit-safe facts of a verified certificate.
func Facts(cert *x509.Certificate, forwarded bool) *identity.Certificate {
	c := &identity.Certificate{
		SHA256:    sha256Hex(cert.Raw),
		SHA1:      sha1Hex(cert.Raw),
		Subject:   cert.Subject.String(),
		Issuer:    cert.Issuer.String(),
		Serial:    cert.SerialNumber.Text(16),
		NotAfter:  cert.NotAfter,
		DNSNames:  cert.DNSNames,
		Emails:    cert.EmailAddresses,
		Forwarded: forwarded,
	}
	for _, u := range cert.URIs {
		c.URIs = append(c.URIs, u.String())
	}
	return c
}
