package clientcert

import (
	"crypto/x509"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestForwardHeadersReadBack(t *testing.T) {
	root := newRoot(t, "Root")
	inter := root.intermediate(t, "Ward CA")
	leaf := inter.leaf(t, leafOpts{cn: "tablet"})
	chain := []*x509.Certificate{leaf, inter.cert, root.cert}

	t.Run("x_ssl_clientcert is the leaf as nginx escapes it, read back by escaped_pem", func(t *testing.T) {
		h := ForwardXSSLClientCert.Headers(chain)
		v := h["X-SSL-ClientCert"]
		if u, err := url.QueryUnescape(v); err != nil || u != pemOf(leaf) {
			t.Fatalf("form-decoding gives %q, %v", u, err)
		}
		src, _ := NewSource(FormatEscapedPEM, "", "")
		fw, err := src.Parse(Raw{Leaf: v})
		if err != nil || !fw.Leaf.Equal(leaf) || len(fw.Intermediates) != 0 {
			t.Fatalf("read back: %v", err)
		}
	})
	t.Run("rfc9440 sends the leaf and the intermediates without the root", func(t *testing.T) {
		h := ForwardRFC9440.Headers(chain)
		src, _ := NewSource(FormatRFC9440, "", "")
		hdr := http.Header{}
		for k, v := range h {
			hdr.Set(k, v)
		}
		raw, err := src.Read(hdr)
		if err != nil {
			t.Fatal(err)
		}
		fw, err := src.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		got := [][]byte{fw.Leaf.Raw}
		for _, c := range fw.Intermediates {
			got = append(got, c.Raw)
		}
		if diff := cmp.Diff([][]byte{leaf.Raw, inter.cert.Raw}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("rfc9440 for a leaf straight under the root sends no chain header", func(t *testing.T) {
		h := ForwardRFC9440.Headers([]*x509.Certificate{leaf, root.cert})
		if _, ok := h["Client-Cert-Chain"]; ok || h["Client-Cert"] == "" {
			t.Fatalf("headers %v", h)
		}
	})
	t.Run("none sends nothing", func(t *testing.T) {
		if h := ForwardNone.Headers(chain); h != nil {
			t.Fatalf("headers %v", h)
		}
	})
}
