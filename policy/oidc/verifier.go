package oidc

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/healthgate/healthgate/internal/ttlcache"
	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// Verifier verifies bearer tokens from the configured issuers. It
// implements pipeline.Verifier and pipeline.Challenger and is safe for
// concurrent use.
type Verifier struct {
	issuers  map[string]*issuer
	intro    *issuer // the issuer that introspects opaque tokens, if any
	sources  sources
	maxBytes int
	cache    *ttlcache.Cache[[32]byte, *session]
	realm    string
	// unobserve detaches the observer from the issuers' key sets, which
	// may outlive this Verifier.
	unobserve []func()
}

// New checks cfg and builds a Verifier. It makes no network request: each
// issuer's keys are discovered and fetched when its first token arrives.
func New(cfg Config) (*Verifier, error) {
	if len(cfg.Issuers) == 0 {
		return nil, fmt.Errorf("oidc: no issuer configured")
	}
	v := &Verifier{issuers: map[string]*issuer{}, maxBytes: cfg.MaxTokenBytes, realm: cfg.Realm}
	if v.maxBytes <= 0 {
		v.maxBytes = DefaultMaxTokenBytes
	}
	if v.realm == "" {
		v.realm = DefaultRealm
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	v.cache = ttlcache.New[[32]byte, *session](size)
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	obs := cfg.Observer
	if obs == nil {
		obs = audit.Nop{}
	}
	for _, ic := range cfg.Issuers {
		is, err := newIssuer(ic, client, size, obs)
		if err != nil {
			v.Close()
			return nil, fmt.Errorf("oidc: %w", err)
		}
		if is.remote != nil {
			v.unobserve = append(v.unobserve, is.remote.Observe(obs))
		}
		if _, dup := v.issuers[is.cfg.Issuer]; dup {
			v.Close()
			return nil, fmt.Errorf("oidc: issuer %s configured twice", is.cfg.Issuer)
		}
		v.issuers[is.cfg.Issuer] = is
		if is.intro != nil {
			if v.intro != nil {
				v.Close()
				return nil, fmt.Errorf("oidc: issuers %s and %s both introspect; an opaque token names no issuer, so only one may",
					v.intro.cfg.Issuer, is.cfg.Issuer)
			}
			v.intro = is
		}
		if c := is.cfg.Cookie; c != "" && !slices.Contains(v.sources.cookies, c) {
			v.sources.cookies = append(v.sources.cookies, c)
		}
		if q := is.cfg.Query; q != "" && !slices.Contains(v.sources.queries, q) {
			v.sources.queries = append(v.sources.queries, q)
		}
	}
	return v, nil
}

// Close stops reporting the fetches of key sets this Verifier shares (see
// IssuerConfig.Keys) to its observer; a retired configuration must not
// count the fetches of the one that replaced it. The Verifier still works.
func (v *Verifier) Close() {
	for _, stop := range v.unobserve {
		stop()
	}
	v.unobserve = nil
}

// Verify implements pipeline.Verifier.
func (v *Verifier) Verify(ctx context.Context, req *pipeline.Request) error {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	tok, src, ok, err := v.sources.extract(req.HTTP)
	if err != nil {
		return v.refuse(err)
	}
	if !ok {
		return pipeline.ErrNoCredentials
	}
	// Bound the work an attacker can cause before hashing or decoding.
	if len(tok) > v.maxBytes {
		return v.refuse(fmt.Errorf("%w: %d bytes, limit %d", ErrTokenSize, len(tok), v.maxBytes))
	}
	if !isBearerToken(tok) {
		return v.refuse(fmt.Errorf("%w: not an RFC 6750 b64token", ErrMalformed))
	}
	key := sha256.Sum256([]byte(tok))
	s, hit := v.cache.Get(key, now)
	if !hit {
		if s, err = v.verifyToken(ctx, tok, key, now); err != nil {
			return v.refuse(err)
		}
		if s.proof != identity.ProofIntrospection { // the introspector caches its own
			v.cache.Put(key, s, s.until, now)
		}
	}
	if !s.issuer.allows(src) {
		return v.refuse(fmt.Errorf("%w: %s", ErrSource, s.issuer.cfg.Issuer))
	}
	if err := s.apply(req, now); err != nil {
		return v.refuse(err)
	}
	return nil
}

// verifyToken verifies a token the cache did not know.
func (v *Verifier) verifyToken(ctx context.Context, tok string, key [32]byte, now time.Time) (*session, error) {
	if strings.Count(tok, ".") == 2 {
		t, err := parseJWT(tok, v.maxBytes)
		if err != nil {
			return nil, err
		}
		is, ok := v.issuers[t.iss]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownIssuer, t.iss)
		}
		return is.verifyJWT(ctx, t, now)
	}
	if v.intro == nil {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrNoIntrospection)
	}
	return v.intro.intro.verify(ctx, tok, key, now)
}

// Challenge implements pipeline.Challenger.
func (v *Verifier) Challenge(realm string) string { return "Bearer realm=" + strconv.Quote(realm) }

// refuse turns a verification error into the RFC 6750 answer: 400
// invalid_request for an ambiguous request, 403 insufficient_scope, 503
// when the issuer could not be asked, else 401 invalid_token. The detail
// stays in Failure.Err, for the log.
func (v *Verifier) refuse(err error) *pipeline.Failure {
	if errors.Is(err, pipeline.ErrUnavailable) {
		return pipeline.Refuse(http.StatusServiceUnavailable, "dependency_unavailable", err)
	}
	var f *pipeline.Failure
	switch {
	case errors.Is(err, ErrRepeatedHeader), errors.Is(err, ErrMultipleSources):
		f = pipeline.BadRequest("invalid_request", err)
	case errors.Is(err, ErrScope):
		f = pipeline.Forbidden("insufficient_scope", err)
	default:
		f = pipeline.Unauthorized("invalid_token", err)
	}
	f.Challenge = fmt.Sprintf("Bearer realm=%s, error=%q", strconv.Quote(v.realm), f.Reason)
	return f
}
