package clientcert

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"unsafe"
)

// Format is how a TLS terminator encodes the client certificate it forwards.
type Format uint8

// The forwarded-certificate formats. The zero value is no format.
const (
	// FormatPEM: PEM, as Apache's %{SSL_CLIENT_CERT}s sends it (CR/LF
	// turned into spaces) or nginx's deprecated $ssl_client_cert (lines
	// folded with a TAB). Header X-SSL-ClientCert, what SanteDB reads.
	FormatPEM Format = iota + 1
	// FormatEscapedPEM: URL-encoded PEM, nginx's $ssl_client_escaped_cert.
	// Header X-SSL-ClientCert.
	FormatEscapedPEM
	// FormatBase64DER: base64 DER, HAProxy's %[ssl_c_der,base64]; a comma
	// separated list (leaf first) as Traefik's passTLSClientCert sends.
	// Header X-SSL-Client-Cert.
	FormatBase64DER
	// FormatRFC9440: Client-Cert and Client-Cert-Chain, Structured Field
	// byte sequences.
	FormatRFC9440
	// FormatXFCC: Envoy's X-Forwarded-Client-Cert; the last element (the
	// nearest proxy's) is read, its Cert= and Chain= URL-encoded PEM.
	FormatXFCC
	// FormatALB: AWS ALB, X-Amzn-Mtls-Clientcert-Leaf (verify mode) or
	// X-Amzn-Mtls-Clientcert (passthrough, whole chain), URL-encoded PEM.
	FormatALB
)

// Limits applied before any decoding.
const (
	// MaxLeafHeaderBytes bounds a header that carries one certificate.
	MaxLeafHeaderBytes = 16 << 10
	// MaxChainHeaderBytes bounds a header that may carry a chain.
	MaxChainHeaderBytes = 64 << 10
	// MaxChain bounds the certificates in one forwarded value, leaf
	// included.
	MaxChain = 8
)

var formatNames = [...]string{
	FormatPEM:        "pem",
	FormatEscapedPEM: "escaped_pem",
	FormatBase64DER:  "base64_der",
	FormatRFC9440:    "rfc9440",
	FormatXFCC:       "xfcc",
	FormatALB:        "alb",
}

// ParseFormat reads a format name as the configuration spells it.
func ParseFormat(s string) (Format, error) {
	for f, name := range formatNames {
		if name != "" && name == s {
			return Format(f), nil
		}
	}
	return 0, fmt.Errorf("clientcert: unknown certificate header format %q (want pem, escaped_pem, base64_der, rfc9440, xfcc or alb)", s)
}

func (f Format) String() string {
	if int(f) < len(formatNames) && formatNames[f] != "" {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// DefaultHeaders returns the header names a format is read from by default:
// the certificate (or whole chain) header, and a separate chain header for
// the formats that have one.
func (f Format) DefaultHeaders() (header, chain string) {
	switch f {
	case FormatPEM, FormatEscapedPEM:
		return "X-SSL-ClientCert", ""
	case FormatBase64DER:
		return "X-SSL-Client-Cert", ""
	case FormatRFC9440:
		return "Client-Cert", "Client-Cert-Chain"
	case FormatXFCC:
		return "X-Forwarded-Client-Cert", ""
	case FormatALB:
		return "X-Amzn-Mtls-Clientcert-Leaf", "X-Amzn-Mtls-Clientcert"
	}
	return "", ""
}

// Forwarded is a certificate as a TLS terminator forwarded it, not yet
// verified.
type Forwarded struct {
	Leaf *x509.Certificate
	// Intermediates are the other certificates offered, leaf excluded.
	Intermediates []*x509.Certificate
}

// Source says where and how a forwarded certificate is read.
type Source struct {
	Format Format
	// Header carries the certificate (for xfcc and base64_der, the chain
	// too).
	Header string
	// ChainHeader carries the chain, for rfc9440 and alb.
	ChainHeader string
}

// NewSource returns a Source for format f, with the format's default header
// names where header or chain are empty. A chain header is refused for the
// formats that carry the chain in the certificate header.
func NewSource(f Format, header, chain string) (Source, error) {
	dh, dc := f.DefaultHeaders()
	if dh == "" {
		return Source{}, fmt.Errorf("clientcert: no certificate header format given")
	}
	if chain != "" && dc == "" {
		return Source{}, fmt.Errorf("clientcert: format %s has no separate chain header (got %q)", f, chain)
	}
	if header == "" {
		header = dh
	}
	if chain == "" {
		chain = dc
	}
	for _, h := range []string{header, chain} {
		if strings.ContainsAny(h, " \t\r\n:") {
			return Source{}, fmt.Errorf("clientcert: invalid header name %q", h)
		}
	}
	s := Source{Format: f, Header: http.CanonicalHeaderKey(header)}
	if chain != "" {
		s.ChainHeader = http.CanonicalHeaderKey(chain)
	}
	return s, nil
}

// Raw holds the undecoded header values of one request.
type Raw struct {
	Leaf, Chain string
}

// Key is the identity-cache key of a forwarded value: SHA-256 over the
// format, both lengths and both values, so equal bytes under another
// format, or split differently between the two headers, never share an
// entry. It runs on every forwarded request: the values are hashed in
// place, not copied.
func (r Raw) Key(f Format) [32]byte {
	var hdr [17]byte
	hdr[0] = byte(f)
	binary.BigEndian.PutUint64(hdr[1:], uint64(len(r.Leaf)))
	binary.BigEndian.PutUint64(hdr[9:], uint64(len(r.Chain)))
	h := sha256.New()
	h.Write(hdr[:])
	h.Write(stringBytes(r.Leaf))
	h.Write(stringBytes(r.Chain))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// stringBytes views s as bytes without copying it. The caller must only
// read them, as a hash does.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Headers returns the header names the Source reads.
func (s Source) Headers() []string {
	if s.ChainHeader == "" {
		return []string{s.Header}
	}
	return []string{s.Header, s.ChainHeader}
}

// Read takes the header values from h: each header at most once and within
// its size limit. It returns ErrNoCertificate when no certificate was
// forwarded.
func (s Source) Read(h http.Header) (Raw, error) {
	leafMax := MaxLeafHeaderBytes
	if s.Format == FormatXFCC || s.Format == FormatBase64DER {
		leafMax = MaxChainHeaderBytes
	}
	leaf, err := single(h, s.Header, leafMax)
	if err != nil {
		return Raw{}, err
	}
	var chain string
	if s.ChainHeader != "" {
		if chain, err = single(h, s.ChainHeader, MaxChainHeaderBytes); err != nil {
			return Raw{}, err
		}
	}
	if leaf == "" && chain == "" {
		return Raw{}, ErrNoCertificate
	}
	return Raw{Leaf: leaf, Chain: chain}, nil
}

// single returns the one value of header name, "" when absent, empty or
// "(null)" (Apache's word for an unset variable).
func single(h http.Header, name string, limit int) (string, error) {
	vs := h.Values(name)
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", &HeaderError{Header: name, Kind: ErrDuplicateHeader}
	case len(vs[0]) > limit:
		return "", &HeaderError{Header: name, Kind: ErrHeaderTooLarge, Err: fmt.Errorf("%d bytes, limit %d", len(vs[0]), limit)}
	}
	v := strings.TrimSpace(vs[0])
	if v == "(null)" {
		v = ""
	}
	return v, nil
}

// Parse decodes the values Read returned.
func (s Source) Parse(r Raw) (*Forwarded, error) {
	switch s.Format {
	case FormatPEM:
		return parsePEM(s.Header, r.Leaf)
	case FormatEscapedPEM:
		return parseEscapedPEM(s.Header, r.Leaf)
	case FormatBase64DER:
		return parseBase64DER(s.Header, r.Leaf)
	case FormatRFC9440:
		return parseRFC9440(s.Header, s.ChainHeader, r.Leaf, r.Chain)
	case FormatXFCC:
		return parseXFCC(s.Header, r.Leaf)
	case FormatALB:
		return parseALB(s.Header, s.ChainHeader, r.Leaf, r.Chain)
	}
	return nil, fmt.Errorf("clientcert: unknown format %v", s.Format)
}

// forwarded builds a Forwarded from certificates in leaf-first order.
func forwarded(header string, certs []*x509.Certificate) (*Forwarded, error) {
	switch {
	case len(certs) == 0:
		return nil, ErrNoCertificate
	case len(certs) > MaxChain:
		return nil, &HeaderError{Header: header, Kind: ErrChainTooLong, Err: fmt.Errorf("%d certificates, limit %d", len(certs), MaxChain)}
	}
	return &Forwarded{Leaf: certs[0], Intermediates: certs[1:]}, nil
}
