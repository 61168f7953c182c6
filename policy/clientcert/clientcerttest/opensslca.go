// Package clientcerttest runs a real OpenSSL certificate authority for
// tests: `openssl ca` issues and revokes client certificates, `openssl ca
// -gencrl` writes the CRL (served over HTTP at the certificates'
// distribution point) and `openssl ocsp` answers at their AIA responder
// URL. It follows ENVIRONMENT.md §5 and its gotchas.
package clientcerttest

import (
	"bufio"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/testutil"
)

// CA is an OpenSSL CA in a temporary directory.
type CA struct {
	Dir     string
	Cert    *x509.Certificate
	CertPEM string // path of ca.crt
	CRLFile string // path of ca.crl, rewritten by Revoke
	OCSPURL string
	CRLURL  string

	t         testing.TB
	ocspPort  int
	mu        sync.Mutex
	responder *exec.Cmd
	crlServer *httptest.Server
}

// Issued is a client certificate the CA issued.
type Issued struct {
	Cert     *x509.Certificate
	CertFile string
	KeyFile  string
}

// New makes a CA (P-256), its delegated OCSP responder certificate and an
// empty CRL, and serves the CRL over HTTP. The responder is not started.
func New(t testing.TB) *CA {
	t.Helper()
	testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	ca := &CA{Dir: dir, t: t, CertPEM: filepath.Join(dir, "ca.crt"), CRLFile: filepath.Join(dir, "ca.crl")}
	ca.crlServer = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ca.crl" {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, ca.CRLFile)
	}))
	t.Cleanup(ca.crlServer.Close)
	ca.CRLURL = ca.crlServer.URL + "/ca.crl"
	ca.ocspPort = testutil.FreePort(t)
	ca.OCSPURL = "http://127.0.0.1:" + strconv.Itoa(ca.ocspPort)

	for _, d := range []string{"newcerts"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, "index.txt"), "")
	write(t, filepath.Join(dir, "serial"), "1000\n")
	write(t, filepath.Join(dir, "crlnumber"), "1000\n")
	write(t, filepath.Join(dir, "ca.cnf"), fmt.Sprintf(caConfig, dir, ca.OCSPURL, ca.CRLURL))

	ca.run("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", "/O=healthgate test/CN=OpenSSL Test Root",
		"-config", "ca.cnf", "-extensions", "v3_ca")
	ca.Cert = ReadCert(t, ca.CertPEM)
	ca.issue("ocsp", "OCSP Responder", "ocsp")
	ca.run("ca", "-config", "ca.cnf", "-gencrl", "-out", "ca.crl")
	return ca
}

// caConfig is the openssl ca configuration; %s: dir, OCSP URL, CRL URL.
const caConfig = `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = %[1]s
database = $dir/index.txt
serial = $dir/serial
crlnumber = $dir/crlnumber
new_certs_dir = $dir/newcerts
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
default_days = 365
default_crl_days = 7
policy = policy_any
copy_extensions = copy
unique_subject = no
[ policy_any ]
organizationName = optional
commonName = supplied
[ req ]
distinguished_name = req_dn
[ req_dn ]
[ v3_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[ client ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityInfoAccess = OCSP;URI:%[2]s
crlDistributionPoints = URI:%[3]s
[ ocsp ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
`

// Issue makes a client certificate (clientAuth, AIA and CDP set) named
// name.crt / name.key with the given common name.
func (ca *CA) Issue(name, cn string) Issued {
	ca.t.Helper()
	return ca.issue(name, cn, "client")
}

func (ca *CA) issue(name, cn, ext string) Issued {
	ca.t.Helper()
	ca.run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", name+".key", "-out", name+".csr", "-subj", "/O=healthgate test/CN="+cn)
	ca.run("ca", "-batch", "-notext", "-config", "ca.cnf", "-extensions", ext, "-in", name+".csr", "-out", name+".crt")
	crt := filepath.Join(ca.Dir, name+".crt")
	return Issued{Cert: ReadCert(ca.t, crt), CertFile: crt, KeyFile: filepath.Join(ca.Dir, name+".key")}
}

// Revoke revokes name.crt (keyCompromise) and rewrites the CRL. A running
// responder is restarted, because it re-reads the index one request late.
func (ca *CA) Revoke(name string) {
	ca.t.Helper()
	ca.run("ca", "-config", "ca.cnf", "-revoke", name+".crt", "-crl_reason", "keyCompromise")
	ca.run("ca", "-config", "ca.cnf", "-gencrl", "-out", "ca.crl")
	ca.mu.Lock()
	running := ca.responder != nil
	ca.mu.Unlock()
	if running {
		ca.StopResponder()
		ca.StartResponder()
	}
}

// StartResponder runs `openssl ocsp` on the OCSP URL's port (answers valid
// for 5 minutes) and waits until it says it is listening. It must not be
// probed with a bare connect: openssl 3.0's responder spins on a connection
// closed without a request and answers nobody after it.
func (ca *CA) StartResponder() {
	ca.t.Helper()
	cmd := exec.Command("openssl", "ocsp", "-index", "index.txt", "-port", strconv.Itoa(ca.ocspPort),
		"-rsigner", "ocsp.crt", "-rkey", "ocsp.key", "-CA", "ca.crt", "-nmin", "5")
	cmd.Dir = ca.Dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		ca.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		ca.t.Fatalf("starting openssl ocsp: %v", err)
	}
	ca.mu.Lock()
	ca.responder = cmd
	ca.mu.Unlock()
	ca.t.Cleanup(ca.StopResponder)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		listening := false
		for sc.Scan() { // drains stderr until the responder exits
			if !listening && strings.Contains(sc.Text(), "waiting for OCSP client connections") {
				close(ready)
				listening = true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		ca.t.Fatalf("openssl ocsp did not start listening on port %d", ca.ocspPort)
	}
}

// StopResponder kills the responder, if running, and waits for it.
func (ca *CA) StopResponder() {
	ca.mu.Lock()
	cmd := ca.responder
	ca.responder = nil
	ca.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

func (ca *CA) run(args ...string) {
	ca.t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = ca.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		ca.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ReadCert reads the first certificate of a PEM file.
func ReadCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func write(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
