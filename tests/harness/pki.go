package harness

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/devpki"
)

// PKI is a test certificate authority with a server certificate for
// localhost, written to files the gateway's Caddyfile can name.
type PKI struct {
	Dir    string
	Root   *devpki.Authority
	CAFile string
	// ServerCert and ServerKey are for `tls <cert> <key>`.
	ServerCert, ServerKey string
	pool                  *x509.CertPool
	n                     atomic.Int64
}

// Cert is an issued certificate with its files.
type Cert struct {
	*devpki.Leaf
	CertFile, KeyFile string
	TLS               tls.Certificate
	// SHA256 and SHA1 are the upper-case hex thumbprints of the DER.
	SHA256, SHA1 string
}

// NewPKI makes a root CA and a localhost server certificate.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	root, err := devpki.NewRoot("healthgate test CA")
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{Dir: t.TempDir(), Root: root, pool: x509.NewCertPool()}
	p.pool.AddCert(root.Cert)
	if p.CAFile, _, err = devpki.WriteAuthority(p.Dir, "ca", root); err != nil {
		t.Fatal(err)
	}
	srv := p.IssueFrom(t, root, devpki.Options{CommonName: "localhost", DNSNames: []string{"localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	p.ServerCert, p.ServerKey = srv.CertFile, srv.KeyFile
	return p
}

// Issue makes a client certificate signed by the root.
func (p *PKI) Issue(t testing.TB, o devpki.Options) *Cert {
	t.Helper()
	return p.IssueFrom(t, p.Root, o)
}

// IssueFrom makes a certificate signed by ca (an intermediate, another
// root). The cert file holds the leaf followed by ca's chain.
func (p *PKI) IssueFrom(t testing.TB, ca *devpki.Authority, o devpki.Options) *Cert {
	t.Helper()
	leaf, err := ca.Issue(o)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, leaf)
}

// SelfSigned makes a self-signed client certificate (for pinning).
func (p *PKI) SelfSigned(t testing.TB, o devpki.Options) *Cert {
	t.Helper()
	leaf, err := devpki.SelfSigned(o)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, leaf)
}

func (p *PKI) write(t testing.TB, leaf *devpki.Leaf) *Cert {
	name := fmt.Sprintf("cert%d", p.n.Add(1))
	certFile, keyFile, err := devpki.WriteLeaf(p.Dir, name, leaf)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	s256, s1 := sha256.Sum256(leaf.Cert.Raw), sha1.Sum(leaf.Cert.Raw)
	return &Cert{Leaf: leaf, CertFile: certFile, KeyFile: keyFile, TLS: pair,
		SHA256: strings.ToUpper(hex.EncodeToString(s256[:])), SHA1: strings.ToUpper(hex.EncodeToString(s1[:]))}
}

// Client returns an HTTP client that trusts the PKI's root and presents
// cert, if given. Connections are not reused across clients.
func (p *PKI) Client(cert *Cert) *http.Client {
	cfg := &tls.Config{RootCAs: p.pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLS}
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true},
		Timeout:   30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Pool returns a pool holding the root.
func (p *PKI) Pool() *x509.CertPool { return p.pool }
