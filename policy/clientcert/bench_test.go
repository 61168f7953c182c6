package clientcert

import (
	"context"
	"crypto/x509"
	"net/http"
	"testing"
)

// The identity benchmarks compare the cached paths with the work the cache
// saves: verifying the chain, hashing and mapping the certificate (and
// decoding the header, for the forwarded path). Report them as ratios:
//
//	go test -run '^$' -bench Identity -benchmem ./policy/clientcert/

func BenchmarkIdentity(b *testing.B) {
	src, _ := NewSource(FormatEscapedPEM, "", "")
	f := newAuthFixture(b, Config{From: &src, Forward: ForwardXSSLClientCert})
	ctx := context.Background()
	peer := []*x509.Certificate{f.device}
	h := http.Header{"X-Ssl-Clientcert": {EscapedPEM(f.device)}}

	b.Run("tls/cached", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := f.auth.TLS(ctx, peer, testNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tls/uncached", func(b *testing.B) {
		for b.Loop() {
			c := *f.device // a new connection's certificate
			if _, _, err := f.auth.TLS(ctx, []*x509.Certificate{&c}, testNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("forwarded/cached", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := f.auth.Forwarded(ctx, h, testNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("forwarded/uncached", func(b *testing.B) {
		for b.Loop() {
			raw, _ := src.Read(h)
			fw, err := src.Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := f.auth.authenticate(ctx, fw.Leaf, fw.Intermediates, true, testNow); err != nil {
				b.Fatal(err)
			}
		}
	})
}
