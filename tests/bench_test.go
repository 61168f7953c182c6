package tests

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/healthgate/healthgate/internal/devpki"
	"github.com/healthgate/healthgate/tests/harness"
)

// BenchmarkHotPath measures one proxied request through the built gateway
// over loopback, with and without healthgate, on a kept-alive connection:
//
//	go test ./tests -run '^$' -bench HotPath -benchtime 5000x
//
// mtls/* present a client certificate in the TLS handshake; forwarded/*
// send it in X-SSL-ClientCert from a trusted proxy over plain HTTP. The
// baseline is the same request to a route with only reverse_proxy; the
// ratio healthgate/baseline is the gateway's overhead as users feel it.
func BenchmarkHotPath(b *testing.B) {
	pki := harness.NewPKI(b)
	up := harness.NewUpstream(b)
	device := pki.Issue(b, devpki.Options{CommonName: "ward-tablet-7", RSABits: 2048})
	verifier := fmt.Sprintf(`client_cert {
				trust_pool file %q
				%%s
				map sha256 %s device ward-tablet-7
			}`, pki.CAFile, device.SHA256)
	gw := harness.Start(b, harness.Config{
		Global: "servers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}",
		Caddyfile: fmt.Sprintf(`https://localhost:{$HTTPS_PORT} {
	tls %[1]q %[2]q {
		client_auth {
			mode request
		}
	}
	handle /baseline/* {
		reverse_proxy %[3]s
	}
	handle {
		healthgate {
			%[4]s
		}
		reverse_proxy %[3]s
	}
}

http://localhost:{$HTTP_PORT} {
	handle /baseline/* {
		reverse_proxy %[3]s
	}
	handle {
		healthgate {
			%[5]s
		}
		reverse_proxy %[3]s
	}
}`, pki.ServerCert, pki.ServerKey, up.Addr, fmt.Sprintf(verifier, ""), fmt.Sprintf(verifier, "from_header escaped_pem X-SSL-ClientCert"))})

	httpsClient := pki.Client(device)
	plain := &http.Client{}
	httpBase := "http://localhost:" + strconv.Itoa(gw.HTTPPort)
	forwarded := http.Header{"X-Ssl-Clientcert": {url.QueryEscape(string(devpki.CertPEM(device.Cert)))}}

	run := func(b *testing.B, c *http.Client, u string, hdr http.Header) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header = hdr
		get := func() {
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body) //nolint:errcheck
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("%s: status %d", u, resp.StatusCode)
			}
		}
		get() // connection and identity cache warm
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			get()
		}
	}
	b.Run("mtls/baseline", func(b *testing.B) { run(b, httpsClient, gw.URL("/baseline/Patient/1"), nil) })
	b.Run("mtls/healthgate", func(b *testing.B) { run(b, httpsClient, gw.URL("/Patient/1"), nil) })
	b.Run("forwarded/baseline", func(b *testing.B) { run(b, plain, httpBase+"/baseline/Patient/1", forwarded) })
	b.Run("forwarded/healthgate", func(b *testing.B) { run(b, plain, httpBase+"/Patient/1", forwarded) })

	if got := up.Last().Header.Get("X-Healthgate-Device"); got != "ward-tablet-7" {
		b.Fatalf("the upstream saw device %q", got)
	}
}
