package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/healthgate/healthgate/policy/oidc"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func init() { caddy.RegisterModule(OIDC{}) }

// oidcKeySets holds each issuer's remote key set (discovery result and
// cached JWKS) across config reloads, so a reload costs no refetch.
var oidcKeySets = caddy.NewUsagePool()

// pooledKeys makes an *oidc.RemoteKeys a pool value.
type pooledKeys struct{ *oidc.RemoteKeys }

func (pooledKeys) Destruct() error { return nil }

// OIDC verifies bearer tokens (Authorization: Bearer, or a configured cookie
// or query parameter) from one or more OpenID Providers: JWTs locally
// against the issuer's keys (discovery or jwks_uri; HS256 shared secrets for
// SanteDB), opaque tokens by RFC 7662 introspection. The issuer is picked by
// the token's iss; an unknown issuer is refused without any fetch.
//
// On success the principal gets the user facet (proof jwt or
// introspection), an application facet from appid/client_id (proof claim)
// unless a client certificate proved one, the token's scopes and its
// claims, and Principal.Token; the handler turns these into
// {healthgate.user.id}, {healthgate.scopes}, {healthgate.claim.<name>} and
// {healthgate.token.*}.
//
// Refusals (see docs/oidc.md): 401 invalid_token, 403 insufficient_scope,
// 400 invalid_request (two Authorization headers, a token in two places),
// 503 dependency_unavailable (discovery or introspection unreachable).
type OIDC struct {
	// Issuers are the trusted issuers; one `oidc` sub-directive each.
	Issuers []*OIDCIssuer `json:"issuers,omitempty"`
	// MaxTokenBytes bounds a token before any decoding.
	// Default: 8192 bytes.
	MaxTokenBytes int `json:"max_token_bytes,omitempty"`
	// CacheSize bounds the verified-token cache and the introspection
	// cache, in entries; -1 disables the token cache. Default: 10000.
	CacheSize int `json:"cache_size,omitempty"`
	// Realm goes into the WWW-Authenticate of refusals. Default: healthgate.
	Realm string `json:"realm,omitempty"`
	// HTTPTimeout bounds each request to an issuer (discovery, JWKS,
	// introspection). Default: 10s.
	HTTPTimeout caddy.Duration `json:"http_timeout,omitempty"`

	verifier *oidc.Verifier
	poolKeys []string
}

// OIDCIssuer configures one issuer.
type OIDCIssuer struct {
	// Issuer is the exact iss of the issuer's tokens.
	Issuer string `json:"issuer"`
	// Discovery is the base URL of /.well-known/openid-configuration when
	// it is not Issuer (SanteDB: https://host:8443/auth). Default: Issuer.
	Discovery string `json:"discovery,omitempty"`
	// JWKSURI skips discovery.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// Algorithms allowed. Default: HS256 with hs256 secrets, else RS256
	// RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA. Never none;
	// HS256 is never combined with the others.
	Algorithms []string `json:"algorithms,omitempty"`
	// HS256Secrets make this an HS256 issuer. Secrets may be placeholders
	// such as {env.SANTEDB_SECRET}, resolved at provision; at least 32
	// bytes each.
	HS256Secrets []OIDCSecret `json:"hs256_secrets,omitempty"`
	// Audiences: the token's aud must contain one. Required; ["*"]
	// accepts any audience.
	Audiences []string `json:"audiences,omitempty"`
	// ClientIDs, when set, must contain the token's azp, else client_id.
	ClientIDs []string `json:"client_ids,omitempty"`
	// Typ, when set, must match the JWS typ header (e.g. at+jwt).
	Typ string `json:"typ,omitempty"`
	// MaxAge, when set, refuses tokens issued (iat) longer ago.
	MaxAge caddy.Duration `json:"max_age,omitempty"`
	// ClockSkew is allowed on exp, nbf and iat. Default: 30s.
	ClockSkew caddy.Duration `json:"clock_skew,omitempty"`
	// RequireScopes must all be granted, else 403 insufficient_scope.
	RequireScopes []string `json:"require_scopes,omitempty"`
	// AllowStringIAT accepts iat as a decimal string (SanteDB 2.x).
	// Default: false.
	AllowStringIAT bool `json:"allow_string_iat,omitempty"`
	// FromCookie and FromQuery name a cookie or query parameter that may
	// carry this issuer's tokens, besides Authorization: Bearer.
	FromCookie string `json:"from_cookie,omitempty"`
	FromQuery  string `json:"from_query,omitempty"`
	// Claims renames the claims mapped to the principal.
	Claims *OIDCClaims `json:"claims,omitempty"`
	// ApplicationConflict is reject or ignore: what to do when the token
	// names another application than the client certificate proved.
	// Default: reject.
	ApplicationConflict string `json:"application_conflict,omitempty"`
	// JWKSRefreshBurst and JWKSRefreshInterval rate-limit key fetches:
	// at most Burst per Interval. Default: 3 per 30s.
	JWKSRefreshBurst    int            `json:"jwks_refresh_burst,omitempty"`
	JWKSRefreshInterval caddy.Duration `json:"jwks_refresh_interval,omitempty"`
	// Introspection verifies opaque tokens (RFC 7662). One issuer at most.
	Introspection *OIDCIntrospection `json:"introspection,omitempty"`
}

// OIDCSecret is one HS256 secret.
type OIDCSecret struct {
	// KeyID, when set, restricts the secret to tokens with this kid and
	// whose application is the kid (SanteDB: the application id).
	KeyID string `json:"kid,omitempty"`
	// Secret, or a placeholder for it.
	Secret string `json:"secret"`
}

// OIDCClaims lists, per principal attribute, the claims to read, first
// present wins. Defaults: user sub nameid; name unique_name
// preferred_username name; role role roles; application appid client_id
// azp; email email; scope scope scp; authmethod authmethod amr.
type OIDCClaims struct {
	User        []string `json:"user,omitempty"`
	Name        []string `json:"name,omitempty"`
	Role        []string `json:"role,omitempty"`
	Application []string `json:"application,omitempty"`
	Email       []string `json:"email,omitempty"`
	Scope       []string `json:"scope,omitempty"`
	AuthMethod  []string `json:"authmethod,omitempty"`
}

// OIDCIntrospection configures RFC 7662 introspection.
type OIDCIntrospection struct {
	// Endpoint is the introspection URL.
	Endpoint string `json:"endpoint"`
	// ClientID and ClientSecret authenticate the gateway
	// (client_secret_basic); the secret may be a placeholder.
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// CacheTTL caps how long an active answer is cached; never past the
	// token's exp. Default: 5m.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`
	// NegativeTTL is how long an inactive answer is cached. Default: 10s.
	NegativeTTL caddy.Duration `json:"negative_ttl,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (OIDC) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "healthgate.verifiers.oidc",
		New: func() caddy.Module { return new(OIDC) },
	}
}

// Priority runs OIDC after the client certificate (0), which a token may be
// bound to (RFC 8705) or combined with.
func (*OIDC) Priority() int { return 20 }

// Provision resolves secrets, shares key sets through a pool and builds the
// verifier. It makes no network request.
func (o *OIDC) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	timeout := time.Duration(o.HTTPTimeout)
	if timeout <= 0 {
		timeout = oidc.DefaultHTTPTimeout
	}
	client := &http.Client{Timeout: timeout}
	obs, err := observer(ctx)
	if err != nil {
		return fmt.Errorf("oidc: %w", err)
	}
	cfg := oidc.Config{MaxTokenBytes: o.MaxTokenBytes, CacheSize: o.CacheSize, Realm: o.Realm, HTTPClient: client, Observer: obs}
	for _, is := range o.Issuers {
		ic, err := is.config(repl)
		if err != nil {
			return fmt.Errorf("oidc %s: %w", is.Issuer, err)
		}
		if len(ic.HMACSecrets) == 0 {
			if ic.Keys, err = o.keys(ic, client); err != nil {
				return fmt.Errorf("oidc %s: %w", is.Issuer, err)
			}
		}
		cfg.Issuers = append(cfg.Issuers, ic)
	}
	v, err := oidc.New(cfg)
	if err != nil {
		return fmt.Errorf("provisioning oidc: %w", err)
	}
	o.verifier = v
	for _, is := range o.Issuers {
		ctx.Logger().Info("oidc issuer", zap.String("issuer", is.Issuer), zap.Strings("audiences", is.Audiences),
			zap.Bool("hs256", len(is.HS256Secrets) > 0), zap.Bool("introspection", is.Introspection != nil))
	}
	return nil
}

// keys returns the pooled key set of an issuer, keyed by everything that
// decides where keys come from and how often.
func (o *OIDC) keys(ic oidc.IssuerConfig, client *http.Client) (*oidc.RemoteKeys, error) {
	key := fmt.Sprintf("oidc\x00%s\x00%s\x00%s\x00%d\x00%d\x00%d", ic.Issuer, ic.DiscoveryURL, ic.JWKSURL,
		ic.RefreshBurst, ic.RefreshInterval, client.Timeout)
	v, _, err := oidcKeySets.LoadOrNew(key, func() (caddy.Destructor, error) {
		return pooledKeys{oidc.NewRemoteKeys(oidc.RemoteKeysConfig{
			Issuer: ic.Issuer, DiscoveryURL: ic.DiscoveryURL, JWKSURL: ic.JWKSURL,
			RefreshBurst: ic.RefreshBurst, RefreshInterval: ic.RefreshInterval, Client: client,
		})}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("key set pool: %w", err)
	}
	o.poolKeys = append(o.poolKeys, key)
	return v.(pooledKeys).RemoteKeys, nil
}

// config turns the JSON form into the core's, resolving placeholders in
// secrets. Errors name the directive, never a secret.
func (is *OIDCIssuer) config(repl *caddy.Replacer) (oidc.IssuerConfig, error) {
	ic := oidc.IssuerConfig{
		Issuer:          is.Issuer,
		DiscoveryURL:    is.Discovery,
		JWKSURL:         is.JWKSURI,
		Algorithms:      is.Algorithms,
		Audiences:       is.Audiences,
		ClientIDs:       is.ClientIDs,
		Type:            is.Typ,
		MaxAge:          time.Duration(is.MaxAge),
		ClockSkew:       time.Duration(is.ClockSkew),
		RequiredScopes:  is.RequireScopes,
		AllowStringIAT:  is.AllowStringIAT,
		Cookie:          is.FromCookie,
		Query:           is.FromQuery,
		RefreshBurst:    is.JWKSRefreshBurst,
		RefreshInterval: time.Duration(is.JWKSRefreshInterval),
	}
	for i, s := range is.HS256Secrets {
		secret, err := repl.ReplaceOrErr(s.Secret, true, true)
		if err != nil {
			return ic, fmt.Errorf("hs256_secret %d: %w", i+1, err)
		}
		ic.HMACSecrets = append(ic.HMACSecrets, oidc.HMACSecret{KeyID: s.KeyID, Secret: []byte(secret)})
	}
	if c := is.Claims; c != nil {
		ic.Claims = oidc.ClaimNames{User: c.User, Name: c.Name, Role: c.Role, Application: c.Application,
			Email: c.Email, Scope: c.Scope, AuthMethod: c.AuthMethod}
	}
	if is.ApplicationConflict != "" {
		rule, err := oidc.ParseConflict(is.ApplicationConflict)
		if err != nil {
			return ic, err
		}
		ic.ApplicationConflict = rule
	}
	if in := is.Introspection; in != nil {
		secret, err := repl.ReplaceOrErr(in.ClientSecret, true, true)
		if err != nil {
			return ic, fmt.Errorf("introspection client_secret: %w", err)
		}
		ic.Introspection = &oidc.IntrospectionConfig{
			Endpoint: in.Endpoint, ClientID: in.ClientID, ClientSecret: secret,
			PositiveTTL: time.Duration(in.CacheTTL), NegativeTTL: time.Duration(in.NegativeTTL),
		}
	}
	return ic, nil
}

// Verify implements pipeline.Verifier.
func (o *OIDC) Verify(ctx context.Context, req *pipeline.Request) error {
	return o.verifier.Verify(ctx, req)
}

// Challenge implements pipeline.Challenger.
func (o *OIDC) Challenge(realm string) string { return o.verifier.Challenge(realm) }

// Cleanup detaches this config's metrics from the pooled key sets, which
// the next config keeps using, and lets go of them. It works after a failed
// Provision.
func (o *OIDC) Cleanup() error {
	if o.verifier != nil {
		o.verifier.Close()
	}
	for _, k := range o.poolKeys {
		if _, err := oidcKeySets.Delete(k); err != nil {
			return err
		}
	}
	o.poolKeys = nil
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner   = (*OIDC)(nil)
	_ caddy.CleanerUpper  = (*OIDC)(nil)
	_ pipeline.Verifier   = (*OIDC)(nil)
	_ pipeline.Challenger = (*OIDC)(nil)
)
