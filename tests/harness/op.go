package harness

// op.go starts the test OpenID Provider (tests/peers/oidc, the npm package
// oidc-provider) behind a counting Go reverse proxy. The proxy's address is
// the issuer, so the issuer stays the same across Stop/Restart, requests to
// each path are counted (JWKS fetches, introspections) and a stopped provider
// looks like an IdP that is down. Only the standard library is used here.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// OPConfig configures the test OpenID Provider. See tests/peers/oidc/README.md.
type OPConfig struct {
	// Clients are the registered clients; each may use the
	// client_credentials grant.
	Clients []OPClient `json:"clients"`
	// Scopes are further scopes the provider knows (the clients' scopes
	// are always known).
	Scopes []string `json:"scopes,omitempty"`
	// DefaultResource is the audience of tokens requested without a
	// resource indicator. Default: https://fhir.example/
	DefaultResource string `json:"defaultResource,omitempty"`
	// TTLSeconds is the access token lifetime. Default: 300.
	TTLSeconds int `json:"ttl,omitempty"`
}

// OPClient is one registered client of the test OpenID Provider.
type OPClient struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
	// Scope is the space-separated scopes the client may request.
	Scope string `json:"scope,omitempty"`
	// Format is "jwt" (default) or "opaque".
	Format string `json:"format,omitempty"`
	// Alg signs the client's JWTs: RS256 (default) or ES256.
	Alg string `json:"alg,omitempty"`
	// Audience replaces the resource as the tokens' aud.
	Audience string `json:"audience,omitempty"`
	// TTLSeconds overrides OPConfig.TTLSeconds for this client.
	TTLSeconds int `json:"ttl,omitempty"`
	// ExtraTokenClaims are added to every token of the client, JWT and
	// opaque (introspection shows them): role, appid, authmethod, scope
	// OIDs, isOverride, patient, cnf…
	ExtraTokenClaims map[string]any `json:"extraTokenClaims,omitempty"`
	// JWTClaims replace claims of the client's JWTs after the provider set
	// its own (sub, iss, aud, exp…): for hostile or odd tokens.
	JWTClaims map[string]any `json:"jwtClaims,omitempty"`
	// JWTHeader adds fields to the JWS header of the client's JWTs.
	JWTHeader map[string]any `json:"jwtHeader,omitempty"`
}

// OP is a running test OpenID Provider.
type OP struct {
	// Issuer is the issuer URL (the counting proxy).
	Issuer string

	t       testing.TB
	cfg     OPConfig
	dir     string
	cfgFile string
	proxy   *httptest.Server
	target  atomic.Pointer[url.URL]

	mu     sync.Mutex
	counts map[string]int
	cmd    *exec.Cmd
	done   chan struct{}
}

// OP endpoint paths of oidc-provider.
const (
	OPJWKSPath          = "/jwks"
	OPTokenPath         = "/token"
	OPIntrospectionPath = "/token/introspection"
	OPRevocationPath    = "/token/revocation"
)

// StartOP starts the provider and stops it when the test ends. It fails the
// test when node or the npm packages are missing (skips only with
// HEALTHGATE_ALLOW_SKIP=1).
func StartOP(t testing.TB, cfg OPConfig) *OP {
	t.Helper()
	peer := opPeerDir(t)
	op := &OP{t: t, cfg: cfg, dir: t.TempDir(), counts: map[string]int{}}
	op.proxy = httptest.NewServer(http.HandlerFunc(op.serve))
	t.Cleanup(op.proxy.Close)
	op.Issuer = op.proxy.URL

	raw := map[string]any{
		"issuer":    op.Issuer,
		"stateFile": filepath.Join(op.dir, "keys.json"),
		"clients":   cfg.Clients,
	}
	if len(cfg.Scopes) > 0 {
		raw["scopes"] = cfg.Scopes
	}
	if cfg.DefaultResource != "" {
		raw["defaultResource"] = cfg.DefaultResource
	}
	if cfg.TTLSeconds > 0 {
		raw["ttl"] = cfg.TTLSeconds
	}
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatalf("harness: encoding OP config: %v", err)
	}
	op.cfgFile = filepath.Join(op.dir, "op.json")
	if err := os.WriteFile(op.cfgFile, b, 0o600); err != nil {
		t.Fatalf("harness: writing OP config: %v", err)
	}
	op.start(peer)
	t.Cleanup(op.kill)
	return op
}

// JWKSURL is the provider's jwks_uri.
func (o *OP) JWKSURL() string { return o.Issuer + OPJWKSPath }

// IntrospectionURL is the provider's RFC 7662 endpoint.
func (o *OP) IntrospectionURL() string { return o.Issuer + OPIntrospectionPath }

// Count returns how many requests reached the proxy for path (whether or not
// the provider was up).
func (o *OP) Count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[path]
}

// JWKSFetches counts requests for the key set.
func (o *OP) JWKSFetches() int { return o.Count(OPJWKSPath) }

// Introspections counts introspection requests.
func (o *OP) Introspections() int { return o.Count(OPIntrospectionPath) }

// Token obtains an access token with the client_credentials grant. An empty
// resource asks for the default resource.
func (o *OP) Token(t testing.TB, clientID, scope, resource string) string {
	t.Helper()
	status, body := o.TokenResponse(t, clientID, scope, resource)
	tok, _ := body["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("harness: OP token for %s: %d %v", clientID, status, body)
	}
	return tok
}

// TokenResponse posts a client_credentials token request and returns the
// status and the decoded JSON answer.
func (o *OP) TokenResponse(t testing.TB, clientID, scope, resource string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	if resource != "" {
		form.Set("resource", resource)
	}
	return o.post(t, OPTokenPath, clientID, form)
}

// Revoke revokes a token at the provider (RFC 7009); only the client the
// token was issued to may.
func (o *OP) Revoke(t testing.TB, clientID, token string) {
	t.Helper()
	if status, body := o.post(t, OPRevocationPath, clientID, url.Values{"token": {token}}); status != http.StatusOK {
		t.Fatalf("harness: OP revocation: %d %v", status, body)
	}
}

// Introspect asks the provider about a token as clientID (RFC 7662).
func (o *OP) Introspect(t testing.TB, clientID, token string) map[string]any {
	t.Helper()
	status, body := o.post(t, OPIntrospectionPath, clientID, url.Values{"token": {token}})
	if status != http.StatusOK {
		t.Fatalf("harness: OP introspection: %d %v", status, body)
	}
	return body
}

// Secret returns the configured secret of a client.
func (o *OP) Secret(clientID string) string {
	for _, c := range o.cfg.Clients {
		if c.ID == clientID {
			return c.Secret
		}
	}
	return ""
}

// Rotate replaces the signing keys (one RSA, one EC, new kids) and returns
// the kids now published. With keep the old keys stay published after the
// new ones. Tokens issued before stay valid at the provider.
func (o *OP) Rotate(t testing.TB, keep bool) []string {
	t.Helper()
	u := o.Issuer + "/__control/rotate"
	if keep {
		u += "?keep=1"
	}
	resp, err := http.Post(u, "", nil)
	if err != nil {
		t.Fatalf("harness: OP rotate: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Kids []string `json:"kids"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("harness: OP rotate: %d %v", resp.StatusCode, err)
	}
	return out.Kids
}

// Stop stops the provider process; the proxy then answers 502, like an IdP
// that is down. Restart brings it back with the same keys.
func (o *OP) Stop() {
	o.target.Store(nil)
	o.kill()
}

// Restart starts a stopped provider again, with the same keys and issuer.
func (o *OP) Restart(t testing.TB) {
	t.Helper()
	o.start(opPeerDir(t))
}

func (o *OP) start(peer string) {
	t := o.t
	t.Helper()
	node, err := exec.LookPath("node")
	if v := os.Getenv("HEALTHGATE_NODE"); v != "" {
		node, err = v, nil
	}
	if err != nil {
		opMissing(t, "node is not on PATH: %v", err)
	}
	cmd := exec.Command(node, filepath.Join(peer, "provider.mjs"), o.cfgFile)
	cmd.Dir = peer
	cmd.Stderr = &opLog{t: t}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("harness: OP stdout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("harness: starting OP: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()

	ready := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m struct {
				Port int `json:"port"`
			}
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Port > 0 {
				ready <- m.Port
			}
		}
	}()
	select {
	case port := <-ready:
		o.mu.Lock()
		o.cmd, o.done = cmd, done
		o.mu.Unlock()
		o.target.Store(&url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port)})
	case <-done:
		t.Fatalf("harness: OP exited before listening (see log above)")
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("harness: OP did not start within 30s")
	}
}

func (o *OP) kill() {
	o.mu.Lock()
	cmd, done := o.cmd, o.done
	o.cmd = nil
	o.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (o *OP) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.counts[r.URL.Path]++
	o.mu.Unlock()
	target := o.target.Load()
	if target == nil {
		http.Error(w, "test OP stopped", http.StatusBadGateway)
		return
	}
	// Keep the Host: oidc-provider builds its endpoint URLs (jwks_uri…)
	// from it, and they must point back at this proxy.
	(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}}).ServeHTTP(w, r)
}

func (o *OP) post(t testing.TB, path, clientID string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, o.Issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("harness: OP request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(o.Secret(clientID)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("harness: OP %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	body := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("harness: OP %s answered %d non-JSON %q", path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, body
}

// opPeerDir returns tests/peers/oidc, installing its npm packages from the
// lock file when they are missing (under a file lock: several test binaries
// may start at once).
func opPeerDir(t testing.TB) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("harness: locating tests/peers/oidc: %v", err)
	}
	peer := filepath.Join(root, "tests", "peers", "oidc")
	if _, err := os.Stat(filepath.Join(peer, "node_modules", "oidc-provider", "package.json")); err == nil {
		return peer
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		opMissing(t, "tests/peers/oidc has no node_modules and npm is not on PATH: %v", err)
	}
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "healthgate-oidc-npm.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("harness: locking npm install: %v", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(filepath.Join(peer, "node_modules", "oidc-provider", "package.json")); err == nil {
		return peer
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = peer
	if out, err := cmd.CombinedOutput(); err != nil {
		opMissing(t, "npm ci in tests/peers/oidc: %v\n%s", err, out)
	}
	return peer
}

// opMissing fails the test for a missing tool, or skips it when
// HEALTHGATE_ALLOW_SKIP=1.
func opMissing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("HEALTHGATE_ALLOW_SKIP") == "1" {
		t.Skipf("harness: "+format, args...)
	}
	t.Fatalf("harness: "+format, args...)
}

// opLog copies the provider's stderr into the test log.
type opLog struct{ t testing.TB }

func (l *opLog) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // the test may have ended
	if strings.Contains(string(p), "oidc-provider WARNING") {
		return len(p), nil // Node 20 and in-memory adapter notices
	}
	l.t.Logf("oidc-provider: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
