package clientcert

import (
	"bytes"
	"crypto/x509"
	"errors"
	"strings"
)

// parseXFCC reads Envoy's X-Forwarded-Client-Cert. Each proxy appends one
// element (comma separated); the last is the nearest proxy's, the trusted
// hop. Its Cert= is the URL-encoded PEM leaf, Chain= the URL-encoded PEM
// chain, leaf included. Values containing , ; or = are double-quoted, with
// \" for a quote. Other keys (By, Hash, Subject, URI, DNS) are not believed:
// everything is taken from the certificate itself.
func parseXFCC(header, v string) (*Forwarded, error) {
	if v == "" {
		return nil, ErrNoCertificate
	}
	elements, err := splitQuoted(header, v, ',')
	if err != nil {
		return nil, err
	}
	last := strings.TrimSpace(elements[len(elements)-1])
	if last == "" {
		return nil, malformed(header, "empty element")
	}
	pairs, err := splitQuoted(header, last, ';')
	if err != nil {
		return nil, err
	}
	var certVal, chainVal string
	var haveCert, haveChain bool
	for _, p := range pairs {
		key, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || key == "" {
			return nil, malformed(header, "element pair without key=value")
		}
		if val, err = unquoteXFCC(header, val); err != nil {
			return nil, err
		}
		switch strings.ToLower(key) {
		case "cert":
			if haveCert {
				return nil, malformed(header, "Cert given twice")
			}
			certVal, haveCert = val, true
		case "chain":
			if haveChain {
				return nil, malformed(header, "Chain given twice")
			}
			chainVal, haveChain = val, true
		}
	}
	var certs []*x509.Certificate
	if haveChain {
		if certs, err = decodeXFCCValue(header, "Chain", chainVal); err != nil {
			return nil, err
		}
	}
	if haveCert {
		leaf, err := decodeXFCCValue(header, "Cert", certVal)
		if err != nil {
			return nil, err
		}
		if len(leaf) != 1 {
			return nil, malformed(header, "Cert holds %d certificates, want 1", len(leaf))
		}
		switch {
		case len(certs) == 0:
			certs = leaf
		case !bytes.Equal(certs[0].Raw, leaf[0].Raw):
			return nil, malformed(header, "Chain does not start with Cert")
		}
	}
	return forwarded(header, certs)
}

// decodeXFCCValue reads the URL-encoded PEM of a Cert or Chain key. A key
// given with no certificate is malformed, not "no certificate": an empty
// Chain= must not hide the Cert= beside it.
func decodeXFCCValue(header, key, v string) ([]*x509.Certificate, error) {
	certs, err := decodeEscapedPEM(header, v)
	if errors.Is(err, ErrNoCertificate) {
		return nil, malformed(header, "%s given without a certificate", key)
	}
	return certs, err
}

// splitQuoted splits s at sep outside double quotes, honouring \" inside
// them. An unterminated quote is malformed.
func splitQuoted(header, s string, sep byte) ([]string, error) {
	var parts []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++ // the escaped character cannot end the quote
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	if quoted {
		return nil, malformed(header, "unterminated quote")
	}
	return append(parts, s[start:]), nil
}

// unquoteXFCC removes the quotes of a quoted value and its \" escapes.
func unquoteXFCC(header, v string) (string, error) {
	if !strings.HasPrefix(v, `"`) {
		if strings.Contains(v, `"`) {
			return "", malformed(header, "quote inside an unquoted value")
		}
		return v, nil
	}
	if len(v) < 2 || !strings.HasSuffix(v, `"`) {
		return "", malformed(header, "text after a quoted value")
	}
	inner := v[1 : len(v)-1]
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if c == '\\' {
			if i+1 == len(inner) {
				return "", malformed(header, "dangling escape")
			}
			i++
			c = inner[i]
		} else if c == '"' {
			return "", malformed(header, "unescaped quote inside a quoted value")
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}
