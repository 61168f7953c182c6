package tests

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/internal/devpki"
	"github.com/healthgate/healthgate/policy/clientcert"
	"github.com/healthgate/healthgate/tests/harness"
)

// certServer issues a server certificate for localhost, *.localhost (for Go
// clients) and names (OpenSSL, so curl, matches no wildcard over a single
// label), so one gateway can hold a site per configuration, chosen by Host.
func certServer(t *testing.T, pki *harness.PKI, names ...string) *harness.Cert {
	return pki.Issue(t, devpki.Options{CommonName: "localhost", DNSNames: append([]string{"localhost", "*.localhost"}, names...),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
}

// mtlsSite is an HTTPS site whose TLS only requests a client certificate
// (Caddy verifies nothing): every verdict is healthgate's. Refusals answer
// with the reason code, so tests can tell which check refused.
func mtlsSite(host string, srv *harness.Cert, up *harness.Upstream, healthgate string) string {
	return fmt.Sprintf(`https://%s:{$HTTPS_PORT} {
	tls %q %q {
		client_auth {
			mode request
		}
	}
	%s
	reverse_proxy %s
	handle_errors {
		respond "{healthgate.reason}" {err.status_code}
	}
}
`, host, srv.CertFile, srv.KeyFile, healthgate, up.Addr)
}

// hostClient dials the gateway's port whatever the URL's host, sending
// sni in the handshake (the URL's host when empty) and presenting certs.
func hostClient(pki *harness.PKI, port int, sni string, certs ...tls.Certificate) *http.Client {
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(port))
	}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:       dial,
			ForceAttemptHTTP2: true,
			TLSClientConfig:   &tls.Config{RootCAs: pki.Pool(), ServerName: sni, Certificates: certs},
		},
	}
}

// call performs a GET and returns the status and body.
func call(t *testing.T, c *http.Client, url string, hdr http.Header) (int, string) {
	t.Helper()
	resp := send(t, c, http.MethodGet, url, hdr, "")
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// identityHeaders is what the upstream was told.
type identityHeaders struct {
	Device, Application, User, Proof, Cert string
}

func seenIdentity(r *harness.Received) identityHeaders {
	return identityHeaders{
		Device:      r.Header.Get("X-Healthgate-Device"),
		Application: r.Header.Get("X-Healthgate-Application"),
		User:        r.Header.Get("X-Healthgate-User"),
		Proof:       r.Header.Get("X-Test-Proof"),
		Cert:        r.Header.Get("X-Ssl-Clientcert"),
	}
}

const proofHeader = `request_header X-Test-Proof "{healthgate.device.proof}{healthgate.application.proof}{healthgate.user.proof}"`

func TestClientCertificatesOverTLS(t *testing.T) {
	pki := harness.NewPKI(t)
	srv := certServer(t, pki)
	up := harness.NewUpstream(t)

	ward, err := pki.Root.Intermediate("Ward Devices CA")
	if err != nil {
		t.Fatal(err)
	}
	rogueRoot, _ := devpki.NewRoot("healthgate test CA") // same name, other key
	rogueWard, _ := rogueRoot.Intermediate("Ward Devices CA")

	device := pki.Issue(t, devpki.Options{CommonName: "tablet-7"})
	app := pki.Issue(t, devpki.Options{CommonName: "lab", URIs: []string{"spiffe://hospital/app/lab-app"}})
	user := pki.Issue(t, devpki.Options{CommonName: "jane.doe", Emails: []string{"jane.doe@hospital.org"}})
	wardTablet := pki.IssueFrom(t, ward, devpki.Options{CommonName: "ward-tablet-9"})
	unknownCA := pki.IssueFrom(t, rogueRoot, devpki.Options{CommonName: "jane.doe"})
	expired := pki.Issue(t, devpki.Options{CommonName: "jane.doe", NotBefore: time.Now().AddDate(-2, 0, 0), NotAfter: time.Now().AddDate(-1, 0, 0)})
	serverOnly := pki.Issue(t, devpki.Options{CommonName: "jane.doe", ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	unmapped := pki.Issue(t, devpki.Options{CommonName: "printer", DNSNames: []string{"printer.ward"}})
	// The ward tablet's own key and leaf, sent with a look-alike
	// intermediate of another root.
	wrongChain := tls.Certificate{Certificate: [][]byte{wardTablet.Cert.Raw, rogueWard.Cert.Raw}, PrivateKey: wardTablet.Key}

	gw := harness.Start(t, harness.Config{
		Global: `servers {
		strict_sni_host insecure_off
	}`,
		Caddyfile: mtlsSite("localhost", srv, up, fmt.Sprintf(`healthgate {
		require client_cert
		client_cert {
			trust_pool file %q
			map sha1 %s device tablet-7
			map sha256 %s device ward-tablet-9
			map san_uri spiffe://hospital/app/* application {1}
			map san_email *@hospital.org user {1}
			forward x_ssl_clientcert
		}
	}
	%s`, pki.CAFile, colonHex(device.SHA1), strings.ToLower(wardTablet.SHA256), proofHeader)) +
			mtlsSite("rfc9440.localhost", srv, up, fmt.Sprintf(`healthgate {
		client_cert {
			trust_pool file %q
			map subject_cn * device {cn}
			forward rfc9440
		}
	}`, pki.CAFile)) +
			// A site whose TLS policy asks for no certificate at all, for
			// the SNI ≠ Host case.
			fmt.Sprintf(`https://open.localhost:{$HTTPS_PORT} {
	tls %q %q
	respond "open"
}
`, srv.CertFile, srv.KeyFile),
	})
	url := "https://localhost:" + strconv.Itoa(gw.HTTPSPort) + "/Patient/1"

	for _, tt := range []struct {
		name   string
		certs  []tls.Certificate
		status int
		reason string
		want   identityHeaders
		leaf   *x509.Certificate
	}{
		{"a device mapped by SHA-1 thumbprint reaches the upstream as that device", []tls.Certificate{device.TLS}, 200, "",
			identityHeaders{Device: "tablet-7", Proof: "mtls"}, device.Cert},
		{"an application mapped by URI SAN reaches the upstream as that application", []tls.Certificate{app.TLS}, 200, "",
			identityHeaders{Application: "lab-app", Proof: "mtls"}, app.Cert},
		{"a user mapped by email SAN reaches the upstream as that user", []tls.Certificate{user.TLS}, 200, "",
			identityHeaders{User: "jane.doe", Proof: "mtls"}, user.Cert},
		{"a device under an intermediate it sends is mapped by SHA-256", []tls.Certificate{wardTablet.TLS}, 200, "",
			identityHeaders{Device: "ward-tablet-9", Proof: "mtls"}, wardTablet.Cert},
		{"no certificate on a route that requires one is refused", nil, 401, "credentials_missing", identityHeaders{}, nil},
		{"a certificate of an unknown CA is refused", []tls.Certificate{unknownCA.TLS}, 401, "cert_untrusted", identityHeaders{}, nil},
		{"an expired certificate is refused", []tls.Certificate{expired.TLS}, 401, "cert_expired", identityHeaders{}, nil},
		{"a serverAuth-only certificate is refused", []tls.Certificate{serverOnly.TLS}, 401, "cert_usage", identityHeaders{}, nil},
		{"a leaf sent with the wrong intermediate is refused", []tls.Certificate{wrongChain}, 401, "cert_untrusted", identityHeaders{}, nil},
		{"a trusted certificate no rule maps is refused", []tls.Certificate{unmapped.TLS}, 403, "cert_unmapped", identityHeaders{}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := up.Count()
			status, body := call(t, hostClient(pki, gw.HTTPSPort, "", tt.certs...), url, http.Header{
				"X-Healthgate-Device": {"spoofed"}, "X-Ssl-Clientcert": {"spoofed"},
			})
			if status != tt.status || (tt.reason != "" && body != tt.reason) {
				t.Fatalf("got %d %q, want %d %q", status, body, tt.status, tt.reason)
			}
			if tt.status != 200 {
				if up.Count() != before {
					t.Fatal("a refused request reached the upstream")
				}
				return
			}
			tt.want.Cert = clientcert.EscapedPEM(tt.leaf)
			if diff := cmp.Diff(tt.want, seenIdentity(up.Last())); diff != "" {
				t.Errorf("upstream saw (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("curl with the device certificate is let through as the device", func(t *testing.T) {
		curl := harness.RequireTool(t, "curl")
		out, err := exec.Command(curl, "-sS", "--http1.1", "--resolve", "localhost:"+strconv.Itoa(gw.HTTPSPort)+":127.0.0.1",
			"--cacert", pki.CAFile, "--cert", device.CertFile, "--key", device.KeyFile,
			"-o", "/dev/null", "-w", "%{http_code}", url).CombinedOutput()
		if err != nil || string(out) != "200" {
			t.Fatalf("curl: %v %s", err, out)
		}
		if got := seenIdentity(up.Last()); got.Device != "tablet-7" || got.User != "" {
			t.Errorf("upstream saw %+v", got)
		}
	})
	t.Run("curl with a certificate of an unknown CA is refused", func(t *testing.T) {
		curl := harness.RequireTool(t, "curl")
		out, err := exec.Command(curl, "-sS", "--resolve", "localhost:"+strconv.Itoa(gw.HTTPSPort)+":127.0.0.1",
			"--cacert", pki.CAFile, "--cert", unknownCA.CertFile, "--key", unknownCA.KeyFile, url).CombinedOutput()
		if err != nil || string(out) != "cert_untrusted" {
			t.Fatalf("curl: %v %q", err, out)
		}
	})
	t.Run("every request on one connection keeps the connection's identity", func(t *testing.T) {
		c := hostClient(pki, gw.HTTPSPort, "", device.TLS)
		for i := 0; i < 3; i++ {
			if status, _ := call(t, c, url, nil); status != 200 {
				t.Fatalf("request %d: %d", i, status)
			}
			if got := seenIdentity(up.Last()).Device; got != "tablet-7" {
				t.Fatalf("request %d: device %q", i, got)
			}
		}
	})
	t.Run("forward rfc9440 hands the upstream the verified leaf and intermediate, not the client's copies", func(t *testing.T) {
		status, body := call(t, hostClient(pki, gw.HTTPSPort, "", wardTablet.TLS),
			"https://rfc9440.localhost:"+strconv.Itoa(gw.HTTPSPort)+"/x",
			http.Header{"Client-Cert": {":AAAA:"}, "Client-Cert-Chain": {":AAAA:"}})
		if status != 200 {
			t.Fatalf("got %d %q", status, body)
		}
		got := up.Last().Header
		want := http.Header{
			"Client-Cert":       {clientcert.ClientCertField(wardTablet.Cert)},
			"Client-Cert-Chain": {clientcert.ClientCertChainField([]*x509.Certificate{ward.Cert})},
		}
		if diff := cmp.Diff(want, http.Header{"Client-Cert": got.Values("Client-Cert"), "Client-Cert-Chain": got.Values("Client-Cert-Chain")}); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("a handshake for a name whose TLS asks no certificate does not open the protected host", func(t *testing.T) {
		// SNI open.localhost (no client_auth), Host localhost: Caddy's
		// strict SNI check is off, so only healthgate stands in the way.
		before := up.Count()
		status, body := call(t, hostClient(pki, gw.HTTPSPort, "open.localhost", device.TLS), url, nil)
		if status != 401 || body != "credentials_missing" || up.Count() != before {
			t.Fatalf("got %d %q", status, body)
		}
	})
}

func colonHex(h string) string {
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

func TestPinnedSelfSignedClientCertificates(t *testing.T) {
	pki := harness.NewPKI(t)
	up := harness.NewUpstream(t)
	peerB := pki.SelfSigned(t, devpki.Options{CommonName: "orthanc-b"})
	stranger := pki.SelfSigned(t, devpki.Options{CommonName: "orthanc-b"})
	gw := harness.Start(t, harness.Config{Caddyfile: mtlsSite("localhost", certServer(t, pki), up, fmt.Sprintf(`healthgate {
		require client_cert
		client_cert {
			pin %q
			map subject_cn * application {cn}
		}
	}`, peerB.CertFile))})
	url := gw.URL("/studies")
	t.Run("the pinned Orthanc peer is let through as an application", func(t *testing.T) {
		if status, body := call(t, hostClient(pki, gw.HTTPSPort, "", peerB.TLS), url, nil); status != 200 {
			t.Fatalf("got %d %q", status, body)
		}
		if got := up.Last().Header.Get("X-Healthgate-Application"); got != "orthanc-b" {
			t.Errorf("application %q", got)
		}
	})
	t.Run("a self-signed certificate with the same name is refused", func(t *testing.T) {
		if status, body := call(t, hostClient(pki, gw.HTTPSPort, "", stranger.TLS), url, nil); status != 401 || body != "cert_untrusted" {
			t.Fatalf("got %d %q", status, body)
		}
	})
}

// forwardedSites holds one plain-HTTP site per format (the TLS terminator
// in front talks HTTP to Caddy), chosen by Host: <format>.localhost.
func forwardedSites(pki *harness.PKI, up *harness.Upstream, missing string) string {
	var b strings.Builder
	for _, f := range []string{"pem", "escaped_pem", "base64_der", "rfc9440", "xfcc", "alb"} {
		fmt.Fprintf(&b, `http://%s.localhost:{$HTTP_PORT} {
	healthgate {
		missing %s
		client_cert {
			trust_pool file %q
			from_header %s
			map subject_cn * device {cn}
		}
	}
	%s
	reverse_proxy %s
	handle_errors {
		respond "{healthgate.reason}" {err.status_code}
	}
}
`, strings.ReplaceAll(f, "_", "-"), missing, pki.CAFile, f, proofHeader, up.Addr)
	}
	return b.String()
}

// forwardedHeaders encodes leaf (and its chain) as each TLS terminator
// sends it.
func forwardedHeaders(leaf *x509.Certificate, chain []*x509.Certificate) map[string]http.Header {
	esc := clientcert.EscapedPEM(leaf)
	var escChain strings.Builder
	escChain.WriteString(esc)
	parts := []string{base64.StdEncoding.EncodeToString(leaf.Raw)}
	for _, c := range chain {
		escChain.WriteString(clientcert.EscapedPEM(c))
		parts = append(parts, base64.StdEncoding.EncodeToString(c.Raw))
	}
	// Apache and nginx send the leaf alone; a chain, where the proxy
	// has one, follows it as further PEM blocks.
	apache := strings.ReplaceAll(strings.TrimSpace(string(devpki.CertPEM(append([]*x509.Certificate{leaf}, chain...)...))), "\n", " ")
	rfc := http.Header{"Client-Cert": {clientcert.ClientCertField(leaf)}}
	if len(chain) > 0 {
		rfc.Set("Client-Cert-Chain", clientcert.ClientCertChainField(chain))
	}
	return map[string]http.Header{
		"pem":         {"X-Ssl-Clientcert": {apache}},
		"escaped_pem": {"X-Ssl-Clientcert": {escChain.String()}},
		"base64_der":  {"X-Ssl-Client-Cert": {strings.Join(parts, ",")}},
		"rfc9440":     rfc,
		"xfcc":        {"X-Forwarded-Client-Cert": {`By=spiffe://edge;Hash=00;Cert="` + esc + `";Chain="` + escChain.String() + `";Subject="CN=x,O=y"`}},
		"alb":         {"X-Amzn-Mtls-Clientcert": {escChain.String()}},
	}
}

func TestForwardedClientCertificates(t *testing.T) {
	pki := harness.NewPKI(t)
	up := harness.NewUpstream(t)
	ward, err := pki.Root.Intermediate("Ward Devices CA")
	if err != nil {
		t.Fatal(err)
	}
	tablet := pki.IssueFrom(t, ward, devpki.Options{CommonName: "tablet-fwd"})
	rogue, _ := devpki.NewRoot("healthgate test CA")
	forged := pki.IssueFrom(t, rogue, devpki.Options{CommonName: "tablet-fwd"})

	trusted := harness.Start(t, harness.Config{
		Global:    "servers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}",
		Caddyfile: forwardedSites(pki, up, "reject"),
	})
	untrusted := harness.Start(t, harness.Config{
		Global:    "servers {\n\t\ttrusted_proxies static 192.0.2.0/24\n\t}",
		Caddyfile: forwardedSites(pki, up, "ignore"),
	})
	get := func(t *testing.T, gw *harness.Gateway, format string, h http.Header) (int, string) {
		c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(gw.HTTPPort))
		}}}
		return call(t, c, fmt.Sprintf("http://%s.localhost:%d/Patient/1", strings.ReplaceAll(format, "_", "-"), gw.HTTPPort), h)
	}

	good := forwardedHeaders(tablet.Cert, []*x509.Certificate{ward.Cert})
	bad := forwardedHeaders(forged.Cert, nil)
	for format, h := range good {
		t.Run(format+" from a trusted proxy maps the forwarded device", func(t *testing.T) {
			status, body := get(t, trusted, format, h)
			if status != 200 {
				t.Fatalf("got %d %q", status, body)
			}
			got := up.Last().Header
			if diff := cmp.Diff(identityHeaders{Device: "tablet-fwd", Proof: "forwarded_cert"}, seenIdentity(up.Last())); diff != "" {
				t.Errorf("upstream saw (-want +got):\n%s", diff)
			}
			for k := range h {
				if got.Get(k) != "" {
					t.Errorf("the forwarded header %s reached the upstream", k)
				}
			}
		})
		t.Run(format+" from an untrusted peer is stripped and ignored", func(t *testing.T) {
			status, body := get(t, untrusted, format, h)
			if status != 200 {
				t.Fatalf("got %d %q", status, body)
			}
			got := up.Last().Header
			if id := seenIdentity(up.Last()); id != (identityHeaders{}) || got.Get("X-Healthgate-Anonymous") != "true" {
				t.Errorf("upstream saw identity %+v anonymous %q", id, got.Get("X-Healthgate-Anonymous"))
			}
			for k := range h {
				if got.Get(k) != "" {
					t.Errorf("the client's %s reached the upstream", k)
				}
			}
		})
		t.Run(format+" from a trusted proxy that does not chain is refused", func(t *testing.T) {
			before := up.Count()
			if status, body := get(t, trusted, format, bad[format]); status != 401 || body != "cert_untrusted" {
				t.Fatalf("got %d %q", status, body)
			}
			if up.Count() != before {
				t.Fatal("reached the upstream")
			}
		})
	}
	t.Run("a forwarded header given twice is refused as malformed", func(t *testing.T) {
		v := good["escaped_pem"].Get("X-Ssl-Clientcert")
		if status, body := get(t, trusted, "escaped_pem", http.Header{"X-Ssl-Clientcert": {v, v}}); status != 401 || body != "cert_header_malformed" {
			t.Fatalf("got %d %q", status, body)
		}
	})
}

func TestClientCertConfigurationErrorsNameTheDirectiveAndValue(t *testing.T) {
	bin := harness.Binary(t)
	pki := harness.NewPKI(t)
	mapFile := t.TempDir() + "/devices.map"
	if err := os.WriteFile(mapFile, []byte("# devices\nsha1 59EC967D51DA999AB4EE0E082C12ED288DD05FAB device ok\nsha1 59EC96 device short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, block, want string
	}{
		{"an unknown forwarded format", `from_header der`, `client_cert from_header: clientcert: unknown certificate header format "der"`},
		{"a short SHA-1 thumbprint", `map sha1 59EC96 device d`, `client_cert map: clientcert: sha1 thumbprint "59EC96" is not 40 hex digits`},
		{"an unknown facet kind", `map subject_cn * robot {cn}`, `unknown facet kind "robot"`},
		{"a bad line in a mapping file", `map_file ` + mapFile, mapFile + `:3: clientcert: sha1 thumbprint "59EC96"`},
		{"an unknown unmapped mode", `unmapped maybe`, `client_cert unmapped: clientcert: unknown unmapped mode "maybe"`},
		{"an unknown revocation word", `revocation ocsp lenient`, `client_cert revocation: unexpected "lenient"`},
		{"an unknown forward format", `forward pem`, `client_cert forward: clientcert: unknown forward format "pem"`},
		{"a missing CRL file", "revocation crl {\n\t\t\tcrl_file /nonexistent/ca.crl\n\t\t}", `client_cert revocation: clientcert: reading CRL file: open /nonexistent/ca.crl`},
	} {
		t.Run(tc.name+" is refused with a message naming it", func(t *testing.T) {
			site := fmt.Sprintf("localhost {\n\thealthgate {\n\t\tclient_cert {\n\t\t\ttrust_pool file %q\n\t\t\t%s\n\t\t}\n\t}\n}\n", pki.CAFile, tc.block)
			out := adaptAndValidate(t, bin, site)
			if !strings.Contains(out, tc.want) {
				t.Fatalf("output does not contain %q:\n%s", tc.want, out)
			}
		})
	}
	t.Run("client_cert without a trust pool or pins is refused", func(t *testing.T) {
		out := adaptAndValidate(t, bin, "localhost {\n\thealthgate {\n\t\tclient_cert {\n\t\t\tunmapped allow\n\t\t}\n\t}\n}\n")
		if want := "client_cert: trust_pool or pin required"; !strings.Contains(out, want) {
			t.Fatalf("output does not contain %q:\n%s", want, out)
		}
	})
}
