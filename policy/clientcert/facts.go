package clientcert

import "github.com/healthgate/healthgate/policy/identity"

// facts returns the audit-safe facts of a verified certificate.
func (v *certView) facts(forwarded bool) *identity.Certificate {
	cert := v.cert
	c := &identity.Certificate{
		SHA256:    v.sha256,
		SHA1:      v.sha1,
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
