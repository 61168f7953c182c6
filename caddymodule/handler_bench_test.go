package caddymodule

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/healthgate/healthgate/internal/devpki"
)

// BenchmarkHandler measures the healthgate handler alone, in process, on the
// request path Caddy gives it (a fresh replacer and vars per request):
//
//	go test ./caddymodule -run '^$' -bench Handler
//
// baseline is the next handler called directly; tls is a request on a
// connection whose certificate is already verified and mapped (the steady
// state: the identity is cached per connection); forwarded is a request with
// X-SSL-ClientCert from a trusted proxy (cached per distinct header value).
func BenchmarkHandler(b *testing.B) {
	ca, err := devpki.NewRoot("bench CA")
	if err != nil {
		b.Fatal(err)
	}
	leaf, err := ca.Issue(devpki.Options{CommonName: "ward-tablet-7", RSABits: 2048})
	if err != nil {
		b.Fatal(err)
	}
	caFile := filepath.Join(b.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, devpki.CertPEM(ca.Cert), 0o644); err != nil {
		b.Fatal(err)
	}
	h := provisionHandler(b, fmt.Sprintf(`healthgate {
		client_cert {
			trust_pool file %s
			from_header escaped_pem X-SSL-ClientCert
			map san_uri urn:x:* application {1}
			map subject_cn * device {cn}
		}
	}`, caFile))
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	conn := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf.Cert}}
	pemHeader := url.QueryEscape(string(devpki.CertPEM(leaf.Cert)))

	request := func(tlsState *tls.ConnectionState, trusted bool, hdr string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "https://localhost/Patient/1", nil)
		r.TLS = tlsState
		if hdr != "" {
			r.Header.Set("X-SSL-ClientCert", hdr)
		}
		ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
		ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{caddyhttp.TrustedProxyVarKey: trusted})
		return r.WithContext(ctx)
	}
	serve := func(b *testing.B, mk func() *http.Request, handler func(http.ResponseWriter, *http.Request) error) {
		w := httptest.NewRecorder()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := handler(w, mk()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("baseline", func(b *testing.B) {
		serve(b, func() *http.Request { return request(conn, false, "") }, next.ServeHTTP)
	})
	b.Run("tls", func(b *testing.B) {
		serve(b, func() *http.Request { return request(conn, false, "") },
			func(w http.ResponseWriter, r *http.Request) error { return h.ServeHTTP(w, r, next) })
	})
	b.Run("forwarded", func(b *testing.B) {
		serve(b, func() *http.Request { return request(nil, true, pemHeader) },
			func(w http.ResponseWriter, r *http.Request) error { return h.ServeHTTP(w, r, next) })
	})
}

func provisionHandler(tb testing.TB, caddyfileText string) *Handler {
	tb.Helper()
	h := new(Handler)
	if _, err := adapt(tb, h, caddyfileText); err != nil {
		tb.Fatal(err)
	}
	return h
}
