package clientcert

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
)

const (
	pemBegin = "-----BEGIN CERTIFICATE-----"
	pemEnd   = "-----END CERTIFICATE-----"
)

// parsePEM reads FormatPEM: one or more PEM certificates, leaf first.
func parsePEM(header, v string) (*Forwarded, error) {
	if v == "" {
		return nil, ErrNoCertificate
	}
	certs, err := decodePEMCertificates(header, v)
	if err != nil {
		return nil, err
	}
	return forwarded(header, certs)
}

// parseEscapedPEM reads FormatEscapedPEM: URL-encoded PEM.
func parseEscapedPEM(header, v string) (*Forwarded, error) {
	if v == "" {
		return nil, ErrNoCertificate
	}
	certs, err := decodeEscapedPEM(header, v)
	if err != nil {
		return nil, err
	}
	return forwarded(header, certs)
}

// decodeEscapedPEM URL-decodes v and reads the PEM certificates in it.
// Path unescaping keeps a literal '+' (base64 uses it, and ALB leaves it
// unescaped); a form encoder's '+' for space can only stand in the armor
// lines, which decodePEMCertificates accepts.
func decodeEscapedPEM(header, v string) ([]*x509.Certificate, error) {
	pemText, err := url.PathUnescape(v)
	if err != nil {
		return nil, malformed(header, "url-decoding: %w", err)
	}
	return decodePEMCertificates(header, pemText)
}

// decodePEMCertificates reads a sequence of PEM CERTIFICATE blocks whose
// line breaks may have become spaces (Apache mod_headers) or folded lines
// with a TAB (nginx $ssl_client_cert). Only white space may stand between
// and around the blocks; PEM headers, other block types and trailing
// garbage are refused. At most MaxChain+1 blocks are decoded.
func decodePEMCertificates(header, s string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := strings.TrimLeft(s, pemSpace)
	if rest == "" {
		return nil, ErrNoCertificate
	}
	for rest != "" {
		if len(certs) == MaxChain {
			return nil, &HeaderError{Header: header, Kind: ErrChainTooLong, Err: fmt.Errorf("more than %d certificates", MaxChain)}
		}
		after, ok := cutArmor(rest, pemBegin)
		if !ok {
			return nil, malformed(header, "expected %q at certificate %d", pemBegin, len(certs)+1)
		}
		end := strings.Index(after, "-----")
		if end < 0 {
			return nil, malformed(header, "certificate %d has no end line", len(certs)+1)
		}
		body := after[:end]
		tail, ok := cutArmor(after[end:], pemEnd)
		if !ok {
			return nil, malformed(header, "certificate %d: expected %q", len(certs)+1, pemEnd)
		}
		cert, err := decodeBase64Certificate(header, stripPEMSpace(body))
		if err != nil {
			return nil, err
		}
		certs = append(certs, cert)
		rest = strings.TrimLeft(tail, pemSpace)
	}
	return certs, nil
}

// pemSpace is the white space a re-wrapped PEM may contain.
const pemSpace = " \t\r\n"

// cutArmor removes an armor line from the front of s, accepting '+' for
// its space (a form-encoded value).
func cutArmor(s, armor string) (string, bool) {
	if len(s) < len(armor) {
		return "", false
	}
	if s[:len(armor)] != armor && s[:len(armor)] != strings.Replace(armor, " ", "+", 1) {
		return "", false
	}
	return s[len(armor):], true
}

func stripPEMSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(pemSpace, r) {
			return -1
		}
		return r
	}, s)
}

// decodeBase64Certificate decodes standard, padded base64 DER and parses
// it; x509.ParseCertificate refuses trailing data.
func decodeBase64Certificate(header, b64 string) (*x509.Certificate, error) {
	der, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, malformed(header, "base64: %w", err)
	}
	return parseDER(header, der)
}

func parseDER(header string, der []byte) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, malformed(header, "parsing certificate: %w", err)
	}
	return cert, nil
}
