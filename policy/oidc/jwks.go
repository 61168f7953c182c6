package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/time/rate"

	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// Refetch limit defaults: a burst of 3, then one fetch every 10 s. A key
// rotation costs one fetch; a flood of tokens with made-up kids costs at most
// 3 + t/10s fetches.
const (
	DefaultRefreshBurst    = 3
	DefaultRefreshInterval = 30 * time.Second
	DefaultHTTPTimeout     = 10 * time.Second
)

// RemoteKeysConfig configures where an issuer's public keys come from.
type RemoteKeysConfig struct {
	// Issuer is the expected iss, also of the discovery document.
	Issuer string
	// DiscoveryURL is the base URL for /.well-known/openid-configuration
	// when it differs from Issuer (SanteDB's issuerName is often not its
	// URL). Default: Issuer.
	DiscoveryURL string
	// JWKSURL skips discovery.
	JWKSURL string
	// RefreshBurst and RefreshInterval bound JWKS fetches, and apart from
	// them discovery attempts: at most RefreshBurst per RefreshInterval.
	RefreshBurst    int
	RefreshInterval time.Duration
	// Client makes the requests. Default: a client with a 10 s timeout.
	Client *http.Client
}

// RemoteKeys is an issuer's public key set: go-oidc's RemoteKeySet behind a
// rate-limited HTTP client, after discovery when no JWKS URL was given.
// go-oidc refetches the JWKS on every unknown kid and every bad signature;
// the limiter bounds those fetches, and while a fetch is refused or fails
// go-oidc keeps verifying with the keys it has. It is safe for concurrent use
// and meant to outlive configuration reloads.
//
// Its fetches are reported to the observers attached with Observe: a key set
// outlives the configuration (and the metrics registry) that created it, so
// each configuration attaches its own while it runs.
type RemoteKeys struct {
	cfg RemoteKeysConfig
	// jwks and discovery are limited separately, so a discovery does not
	// spend a key fetch.
	jwks, discovery *http.Client

	mu  sync.Mutex
	set *oidc.RemoteKeySet

	obsMu     sync.RWMutex
	observers map[*audit.Observer]struct{} // keyed by pointer: two configs may pass equal observers
}

// NewRemoteKeys prepares a key source; it makes no request until the first
// token of the issuer arrives.
func NewRemoteKeys(cfg RemoteKeysConfig) *RemoteKeys {
	if cfg.DiscoveryURL == "" {
		cfg.DiscoveryURL = cfg.Issuer
	}
	if cfg.RefreshBurst <= 0 {
		cfg.RefreshBurst = DefaultRefreshBurst
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	base := cfg.Client
	if base == nil {
		base = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	k := &RemoteKeys{cfg: cfg, observers: map[*audit.Observer]struct{}{}}
	k.jwks = limitedClient(base, cfg, k.observeJWKS)
	// Discovery is reported by discover, which knows whether the document
	// was usable, not only whether it arrived.
	k.discovery = limitedClient(base, cfg, nil)
	return k
}

// Observe reports the key set's JWKS and discovery fetches to obs until stop
// is called. Several observers may be attached at once, as while a reloaded
// configuration replaces the one before.
func (k *RemoteKeys) Observe(obs audit.Observer) (stop func()) {
	if obs == nil {
		return func() {}
	}
	key := &obs
	k.obsMu.Lock()
	k.observers[key] = struct{}{}
	k.obsMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			k.obsMu.Lock()
			delete(k.observers, key)
			k.obsMu.Unlock()
		})
	}
}

// report tells every attached observer about one fetch.
func (k *RemoteKeys) report(kind string, err error) {
	k.obsMu.RLock()
	defer k.obsMu.RUnlock()
	for obs := range k.observers {
		(*obs).Fetch(kind, err)
	}
}

// observeJWKS reports one JWKS request that passed the limiter. go-oidc
// refuses any answer but 200, so another status counts as a failure; an
// unparsable 200 body is go-oidc's to reject and counts as a fetch only.
func (k *RemoteKeys) observeJWKS(resp *http.Response, err error) {
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("jwks answered %s", resp.Status)
	}
	k.report(FetchJWKS, err)
}

// The fetch kinds this package reports to audit.Observer.Fetch.
const (
	FetchJWKS          = "jwks"
	FetchDiscovery     = "discovery"
	FetchIntrospection = "introspection"
)

// limitedClient is base behind a limiter of cfg's rate. observe, when set,
// learns the outcome of every request the limiter let through.
func limitedClient(base *http.Client, cfg RemoteKeysConfig, observe func(*http.Response, error)) *http.Client {
	next := base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	limited := *base
	limited.Transport = &limitedTransport{
		next:    next,
		limiter: rate.NewLimiter(rate.Every(cfg.RefreshInterval/time.Duration(cfg.RefreshBurst)), cfg.RefreshBurst),
		observe: observe,
	}
	return &limited
}

// VerifySignature implements oidc.KeySet.
func (k *RemoteKeys) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	set, err := k.keySet(ctx)
	if err != nil {
		return nil, err
	}
	return set.VerifySignature(ctx, raw)
}

// keySet returns the remote key set, running discovery first if needed. A
// failed discovery wraps pipeline.ErrUnavailable: the client is not at fault.
func (k *RemoteKeys) keySet(ctx context.Context) (*oidc.RemoteKeySet, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.set != nil {
		return k.set, nil
	}
	jwksURL := k.cfg.JWKSURL
	if jwksURL == "" {
		u, err := k.discover(ctx)
		if err != nil {
			return nil, fmt.Errorf("oidc: discovering %s: %w: %w", k.cfg.DiscoveryURL, pipeline.ErrUnavailable, err)
		}
		jwksURL = u
	}
	// The key set's context only carries the client: go-oidc fetches in
	// the background, detached from any request.
	k.set = oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), k.jwks), jwksURL)
	return k.set, nil
}

// discover fetches the discovery document and reports the fetch: failed
// unless it named this issuer and a jwks_uri. An attempt the limiter refused
// made no request and is not reported.
func (k *RemoteKeys) discover(ctx context.Context) (jwksURI string, err error) {
	defer func() {
		if !errors.Is(err, ErrRefreshLimited) {
			k.report(FetchDiscovery, err)
		}
	}()
	ctx = oidc.ClientContext(ctx, k.discovery)
	if k.cfg.DiscoveryURL != k.cfg.Issuer {
		// go-oidc then skips its own issuer check; we make it below.
		ctx = oidc.InsecureIssuerURLContext(ctx, k.cfg.Issuer)
	}
	p, err := oidc.NewProvider(ctx, k.cfg.DiscoveryURL)
	if err != nil {
		return "", err
	}
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return "", err
	}
	if meta.Issuer != k.cfg.Issuer {
		return "", &oidc.IssuerMismatchError{Provided: k.cfg.Issuer, Discovered: meta.Issuer}
	}
	if meta.JWKSURI == "" {
		return "", fmt.Errorf("discovery document has no jwks_uri")
	}
	return meta.JWKSURI, nil
}

// limitedTransport refuses requests beyond the limiter's budget. A refused
// or failed fetch keeps its token spent on purpose: an endpoint that is down
// must not turn a flood of bad tokens into a flood of fetch attempts.
// Refused requests are not reported as fetches: none was made.
type limitedTransport struct {
	next    http.RoundTripper
	limiter *rate.Limiter
	observe func(*http.Response, error) // nil: not reported here
}

func (t *limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.limiter.Allow() {
		return nil, ErrRefreshLimited
	}
	resp, err := t.next.RoundTrip(r)
	if t.observe != nil {
		t.observe(resp, err)
	}
	return resp, err
}
