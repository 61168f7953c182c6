package oidc

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/identity"
)

// issuer verifies the tokens of one configured issuer.
type issuer struct {
	cfg      IssuerConfig
	verifier *oidc.IDTokenVerifier
	hmac     *hmacKeys   // HS256 issuers
	remote   *RemoteKeys // the others
	intro    *introspector
}

func newIssuer(cfg IssuerConfig, client *http.Client, cacheSize int, obs audit.Observer) (*issuer, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	is := &issuer{cfg: cfg}
	var keys oidc.KeySet
	if len(cfg.HMACSecrets) > 0 {
		h, err := newHMACKeys(cfg.HMACSecrets)
		if err != nil {
			return nil, fmt.Errorf("issuer %s: %w", cfg.Issuer, err)
		}
		is.hmac, keys = h, h
	} else {
		is.remote = cfg.Keys
		if is.remote == nil {
			is.remote = NewRemoteKeys(RemoteKeysConfig{
				Issuer: cfg.Issuer, DiscoveryURL: cfg.DiscoveryURL, JWKSURL: cfg.JWKSURL,
				RefreshBurst: cfg.RefreshBurst, RefreshInterval: cfg.RefreshInterval, Client: client,
			})
		}
		keys = is.remote
	}
	// go-oidc checks the signature and iss. Audience, client, typ, scopes
	// and every time claim are ours: go-oidc has no exp leeway, a fixed
	// 5-minute nbf leeway, and ignores iat and typ.
	is.verifier = oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{
		SupportedSigningAlgs: cfg.Algorithms,
		SkipClientIDCheck:    true,
		SkipExpiryCheck:      true,
	})
	if cfg.Introspection != nil {
		is.intro = newIntrospector(is, client, cacheSize, obs)
	}
	return is, nil
}

// verifyJWT checks a pre-parsed token of this issuer.
func (is *issuer) verifyJWT(ctx context.Context, t *jwt, now time.Time) (*session, error) {
	if !slices.Contains(is.cfg.Algorithms, t.alg) {
		return nil, fmt.Errorf("%w: %q for issuer %s", ErrAlgorithm, t.alg, is.cfg.Issuer)
	}
	if err := checkType(t.typ, is.cfg.Type); err != nil {
		return nil, err
	}
	tm, err := checkTimes(t.claims, &is.cfg, now, false)
	if err != nil {
		return nil, err
	}
	if is.remote != nil {
		// Discover now, so an unreachable IdP answers 503, not 401.
		if _, err := is.remote.keySet(ctx); err != nil {
			return nil, err
		}
	}
	if _, err := is.verifier.Verify(ctx, t.raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	claims := flattenClaims(t.claims)
	if err := is.checkClaims(claims); err != nil {
		return nil, err
	}
	x5t, err := confirmation(t.claims)
	if err != nil {
		return nil, err
	}
	s := newSession(is, identity.ProofJWT, claims, tm, x5t)
	if is.hmac != nil && is.hmac.keyedSecret(t.kid) && s.app != t.kid {
		// A client's secret may only vouch for that client's tokens.
		return nil, fmt.Errorf("%w: kid %q signed a token of application %q", ErrSignature, t.kid, s.app)
	}
	return s, nil
}

// checkClaims applies the issuer's audience, client and scope rules.
func (is *issuer) checkClaims(claims map[string][]string) error {
	if err := checkAudience(claims, is.cfg.Audiences); err != nil {
		return err
	}
	if err := checkClient(claims, is.cfg.ClientIDs); err != nil {
		return err
	}
	return checkScopes(scopes(claims, is.cfg.Claims.Scope), is.cfg.RequiredScopes)
}

// allows reports whether the issuer accepts tokens from src.
func (is *issuer) allows(src source) bool {
	switch src.kind {
	case fromHeader:
		return true
	case fromCookie:
		return is.cfg.Cookie != "" && src.name == is.cfg.Cookie
	case fromQuery:
		return is.cfg.Query != "" && src.name == is.cfg.Query
	}
	return false
}
