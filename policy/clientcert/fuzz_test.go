package clientcert

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Each header parser has a fuzz target. The invariants: no panic; an error
// is ErrNoCertificate or a *HeaderError; a success yields a leaf and at most
// MaxChain certificates, and encoding them again in the same format parses
// back to the same DER.

func fuzzSeeds(f *testing.F) (leaf, ca *x509.Certificate) {
	return fixture(f, "fuzz-leaf.pem"), fixture(f, "fuzz-ca.pem")
}

// encode writes certs (leaf first) in format f, as header → value.
func encode(f Format, certs []*x509.Certificate) Raw {
	b64 := func(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }
	var esc strings.Builder
	for _, c := range certs {
		esc.WriteString(EscapedPEM(c))
	}
	switch f {
	case FormatPEM:
		return Raw{Leaf: pemOf(certs...)}
	case FormatEscapedPEM:
		return Raw{Leaf: esc.String()}
	case FormatBase64DER:
		parts := make([]string, len(certs))
		for i, c := range certs {
			parts[i] = b64(c)
		}
		return Raw{Leaf: strings.Join(parts, ",")}
	case FormatRFC9440:
		r := Raw{Leaf: ClientCertField(certs[0])}
		if len(certs) > 1 {
			r.Chain = ClientCertChainField(certs[1:])
		}
		return r
	case FormatXFCC:
		v := "By=spiffe://gw;Cert=" + EscapedPEM(certs[0])
		if len(certs) > 1 {
			v += ";Chain=" + esc.String()
		}
		return Raw{Leaf: v}
	case FormatALB:
		if len(certs) == 1 {
			return Raw{Leaf: EscapedPEM(certs[0])}
		}
		return Raw{Chain: esc.String()}
	}
	panic("unknown format")
}

func checkInvariants(t *testing.T, f Format, leaf, chain string) {
	src, err := NewSource(f, "", "")
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h[src.Header] = []string{leaf}
	if src.ChainHeader != "" {
		h[src.ChainHeader] = []string{chain}
	}
	raw, err := src.Read(h)
	var fw *Forwarded
	if err == nil {
		fw, err = src.Parse(raw)
	}
	if err != nil {
		var he *HeaderError
		if err != ErrNoCertificate && !errors.As(err, &he) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		return
	}
	if fw.Leaf == nil || 1+len(fw.Intermediates) > MaxChain {
		t.Fatalf("bad result: leaf %v, %d intermediates", fw.Leaf != nil, len(fw.Intermediates))
	}
	certs := append([]*x509.Certificate{fw.Leaf}, fw.Intermediates...)
	again, err := src.Parse(encode(f, certs))
	if err != nil {
		t.Fatalf("re-encoded value does not parse: %v", err)
	}
	got := append([]*x509.Certificate{again.Leaf}, again.Intermediates...)
	if len(got) != len(certs) {
		t.Fatalf("round trip: %d certificates, want %d", len(got), len(certs))
	}
	for i := range got {
		if !bytes.Equal(got[i].Raw, certs[i].Raw) {
			t.Fatalf("round trip: certificate %d differs", i)
		}
	}
}

func fuzzOne(f *testing.F, format Format, extra ...[2]string) {
	leaf, ca := fuzzSeeds(f)
	for _, certs := range [][]*x509.Certificate{{leaf}, {leaf, ca}} {
		r := encode(format, certs)
		f.Add(r.Leaf, r.Chain)
	}
	for _, e := range extra {
		f.Add(e[0], e[1])
	}
	f.Add("", "")
	f.Add("(null)", "")
	f.Fuzz(func(t *testing.T, leaf, chain string) { checkInvariants(t, format, leaf, chain) })
}

func FuzzPEMHeader(f *testing.F) {
	leaf, _ := fuzzSeeds(f)
	fuzzOne(f, FormatPEM,
		[2]string{strings.ReplaceAll(pemOf(leaf), "\n", " "), ""},
		[2]string{strings.ReplaceAll(pemOf(leaf), "\n", "\n\t"), ""},
		[2]string{pemBegin + " " + pemEnd, ""})
}

func FuzzEscapedPEMHeader(f *testing.F) {
	leaf, _ := fuzzSeeds(f)
	fuzzOne(f, FormatEscapedPEM, [2]string{url.QueryEscape(pemOf(leaf)), ""}, [2]string{"%", ""})
}

func FuzzBase64DERHeader(f *testing.F) {
	fuzzOne(f, FormatBase64DER, [2]string{"MII=,", ""}, [2]string{",,,", ""})
}

func FuzzRFC9440Header(f *testing.F) {
	fuzzOne(f, FormatRFC9440, [2]string{":AAAA:", "(:AAAA:)"}, [2]string{"", ":AAAA:"}, [2]string{`"str"`, ""})
}

func FuzzXFCCHeader(f *testing.F) {
	fuzzOne(f, FormatXFCC, [2]string{`Subject="a\"b,c";Cert=x,By=y`, ""}, [2]string{`Cert="`, ""}, [2]string{`a=b;;`, ""})
}

func FuzzALBHeader(f *testing.F) {
	fuzzOne(f, FormatALB, [2]string{"%2", "%2"})
}
