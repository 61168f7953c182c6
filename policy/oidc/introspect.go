package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/healthgate/healthgate/internal/ttlcache"
	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// maxIntrospectionBody bounds an introspection answer.
const maxIntrospectionBody = 64 << 10

// introspector verifies opaque tokens with the issuer's RFC 7662 endpoint.
// Answers are cached by token hash: active ones until the token's exp (at
// most PositiveTTL), refusals for NegativeTTL. An unreachable endpoint is
// never cached and fails closed with pipeline.ErrUnavailable.
type introspector struct {
	is     *issuer
	cfg    *IntrospectionConfig
	client *http.Client
	cache  *ttlcache.Cache[[32]byte, introspection]
	group  singleflight.Group
	obs    audit.Observer
}

// introspection is a cached answer: a session, or the refusal.
type introspection struct {
	s   *session
	err error
}

func newIntrospector(is *issuer, client *http.Client, cacheSize int, obs audit.Observer) *introspector {
	if cacheSize < 1 {
		cacheSize = DefaultCacheSize
	}
	return &introspector{is: is, cfg: is.cfg.Introspection, client: client, cache: ttlcache.New[[32]byte, introspection](cacheSize), obs: obs}
}

func (in *introspector) verify(ctx context.Context, token string, key [32]byte, now time.Time) (*session, error) {
	if r, ok := in.cache.Get(key, now); ok {
		return r.s, r.err
	}
	// Concurrent requests with one token share one introspection.
	v, err, _ := in.group.Do(string(key[:]), func() (any, error) {
		r, err := in.introspect(context.WithoutCancel(ctx), token, now)
		// Once per call to the endpoint, not per waiting request. A
		// refused token is an answer; only an unreachable or broken
		// endpoint is a failed fetch.
		in.obs.Fetch(FetchIntrospection, err)
		return r, err
	})
	if err != nil {
		return nil, err
	}
	r := v.(introspection)
	until := now.Add(in.cfg.NegativeTTL)
	if r.err == nil {
		until = now.Add(in.cfg.PositiveTTL)
		if !r.s.until.IsZero() && r.s.until.Before(until) {
			until = r.s.until
		}
	}
	in.cache.Put(key, r, until, now)
	return r.s, r.err
}

// introspect asks the endpoint. The error return is for an unreachable or
// broken endpoint only; a refused token comes back in introspection.err.
func (in *introspector) introspect(ctx context.Context, token string, now time.Time) (introspection, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.cfg.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return introspection{}, fmt.Errorf("oidc: introspection request: %w: %w", pipeline.ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: form-encode the credentials before Basic.
	req.SetBasicAuth(url.QueryEscape(in.cfg.ClientID), url.QueryEscape(in.cfg.ClientSecret))
	resp, err := in.client.Do(req)
	if err != nil {
		return introspection{}, fmt.Errorf("oidc: introspection at %s: %w: %w", in.cfg.Endpoint, pipeline.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBody+1))
	if err != nil || len(body) > maxIntrospectionBody {
		return introspection{}, fmt.Errorf("oidc: introspection answer unreadable or over %d bytes: %w", maxIntrospectionBody, pipeline.ErrUnavailable)
	}
	if resp.StatusCode != http.StatusOK {
		return introspection{}, fmt.Errorf("oidc: introspection answered %s: %w", resp.Status, pipeline.ErrUnavailable)
	}
	claims, err := decodeObject(body)
	if err != nil {
		return introspection{}, fmt.Errorf("oidc: introspection answer: %w: %w", pipeline.ErrUnavailable, err)
	}
	return fromIntrospection(in.is, claims, now), nil
}

// fromIntrospection turns an answer into a session or a refusal.
func fromIntrospection(is *issuer, claims map[string]json.RawMessage, now time.Time) introspection {
	var active bool
	if json.Unmarshal(claims["active"], &active) != nil || !active {
		return introspection{err: ErrInactive}
	}
	if iss, err := stringMember(claims, "iss", false); err != nil || (iss != "" && iss != is.cfg.Issuer) {
		return introspection{err: fmt.Errorf("%w: introspection iss %q", ErrUnknownIssuer, iss)}
	}
	// token_type (RFC 7662 §2.2): only a bearer token may pass as one; a
	// DPoP token or a refresh token the server also introspects must not.
	if tt, err := stringMember(claims, "token_type", false); err != nil || (tt != "" && !strings.EqualFold(tt, "Bearer")) {
		return introspection{err: fmt.Errorf("%w: introspection token_type %q", ErrType, tt)}
	}
	tm, err := checkTimes(claims, &is.cfg, now, true)
	if err != nil {
		return introspection{err: err}
	}
	flat := flattenClaims(claims)
	delete(flat, "active")
	if err := is.checkClaims(flat); err != nil {
		return introspection{err: err}
	}
	x5t, err := confirmation(claims)
	if err != nil {
		return introspection{err: err}
	}
	return introspection{s: newSession(is, identity.ProofIntrospection, flat, tm, x5t)}
}
