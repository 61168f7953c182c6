package clientcert

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"

	"github.com/dunglas/httpsfv"
)

// Forward is how the verified certificate is handed to the upstream.
type Forward uint8

const (
	// ForwardNone sends no certificate upstream. The default.
	ForwardNone Forward = iota
	// ForwardXSSLClientCert sends X-SSL-ClientCert as nginx's
	// $ssl_client_escaped_cert does: URL-escaped PEM of the leaf. What
	// SanteDB reads behind a TLS terminator.
	ForwardXSSLClientCert
	// ForwardRFC9440 sends Client-Cert and, when the verified chain has
	// intermediates, Client-Cert-Chain.
	ForwardRFC9440
)

// ParseForward reads x_ssl_clientcert, rfc9440 or none.
func ParseForward(s string) (Forward, error) {
	switch s {
	case "none", "":
		return ForwardNone, nil
	case "x_ssl_clientcert":
		return ForwardXSSLClientCert, nil
	case "rfc9440":
		return ForwardRFC9440, nil
	}
	return 0, fmt.Errorf("clientcert: unknown forward format %q (want x_ssl_clientcert, rfc9440 or none)", s)
}

// Headers returns the upstream headers carrying chain (leaf first, as
// verified; the trust anchor is not sent).
func (f Forward) Headers(chain []*x509.Certificate) map[string]string {
	if len(chain) == 0 {
		return nil
	}
	switch f {
	case ForwardXSSLClientCert:
		return map[string]string{"X-SSL-ClientCert": EscapedPEM(chain[0])}
	case ForwardRFC9440:
		h := map[string]string{"Client-Cert": ClientCertField(chain[0])}
		if len(chain) > 2 {
			h["Client-Cert-Chain"] = ClientCertChainField(chain[1 : len(chain)-1])
		}
		return h
	}
	return nil
}

// EscapedPEM encodes cert as nginx's $ssl_client_escaped_cert: PEM with
// everything but unreserved characters percent-encoded (space as %20, so
// both form and path decoders read it back).
func EscapedPEM(cert *x509.Certificate) string {
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	return strings.ReplaceAll(url.QueryEscape(string(p)), "+", "%20")
}

// ClientCertField encodes cert as an RFC 9440 Client-Cert value.
func ClientCertField(cert *x509.Certificate) string {
	s, _ := httpsfv.Marshal(httpsfv.NewItem(cert.Raw)) // a byte sequence always marshals
	return s
}

// ClientCertChainField encodes certs as an RFC 9440 Client-Cert-Chain value.
func ClientCertChainField(certs []*x509.Certificate) string {
	l := make(httpsfv.List, len(certs))
	for i, c := range certs {
		l[i] = httpsfv.NewItem(c.Raw)
	}
	s, _ := httpsfv.Marshal(l)
	return s
}
