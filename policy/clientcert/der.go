package clientcert

import (
	"crypto/x509"
	"fmt"
	"strings"
)

// parseBase64DER reads FormatBase64DER: base64 DER, or a comma separated
// list of them, leaf first (Traefik).
func parseBase64DER(header, v string) (*Forwarded, error) {
	if v == "" {
		return nil, ErrNoCertificate
	}
	if n := strings.Count(v, ",") + 1; n > MaxChain {
		return nil, &HeaderError{Header: header, Kind: ErrChainTooLong, Err: fmt.Errorf("%d certificates, limit %d", n, MaxChain)}
	}
	parts := strings.Split(v, ",")
	certs := make([]*x509.Certificate, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, malformed(header, "empty list element %d", i+1)
		}
		cert, err := decodeBase64Certificate(header, p)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cert)
	}
	return forwarded(header, certs)
}
