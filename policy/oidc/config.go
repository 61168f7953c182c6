package oidc

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/healthgate/healthgate/policy/audit"
)

// Defaults of Config and IssuerConfig.
const (
	DefaultClockSkew   = 30 * time.Second
	DefaultCacheSize   = 10000
	DefaultRealm       = "healthgate"
	DefaultPositiveTTL = 5 * time.Minute
	DefaultNegativeTTL = 10 * time.Second
)

// asymmetricAlgs are the algorithms an issuer with public keys may use,
// go-oidc's own list. HS256 is only for issuers with shared secrets.
var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}

// Config configures a Verifier.
type Config struct {
	// Issuers are the trusted token issuers, at least one.
	Issuers []IssuerConfig
	// MaxTokenBytes bounds a token before any decoding.
	// Default: DefaultMaxTokenBytes.
	MaxTokenBytes int
	// CacheSize bounds the verified-token cache (and the introspection
	// cache). Negative disables the token cache. Default: 10000.
	CacheSize int
	// Realm goes into WWW-Authenticate. Default: healthgate.
	Realm string
	// HTTPClient talks to the issuers (discovery, JWKS, introspection).
	// Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Observer is told of every JWKS, discovery and introspection fetch
	// (kinds FetchJWKS, FetchDiscovery, FetchIntrospection), including
	// those of key sets shared through IssuerConfig.Keys until
	// Verifier.Close. Default: audit.Nop{}.
	Observer audit.Observer
}

// IssuerConfig is one trusted issuer.
type IssuerConfig struct {
	// Issuer is the exact iss of its tokens.
	Issuer string
	// DiscoveryURL is the base of /.well-known/openid-configuration when
	// it is not Issuer (SanteDB: https://host:8443/auth). Default: Issuer.
	DiscoveryURL string
	// JWKSURL skips discovery.
	JWKSURL string
	// Algorithms allowed. Default: HS256 when HMACSecrets are given,
	// else RS*, PS*, ES* and EdDSA. Never none; HS256 never mixed with
	// asymmetric algorithms.
	Algorithms []string
	// HMACSecrets make this an HS256 issuer (SanteDB's default signing).
	HMACSecrets []HMACSecret
	// Audiences: the token's aud must contain one of them. Required; the
	// single value "*" accepts any audience (never for a shared IdP).
	Audiences []string
	// ClientIDs, when set, must contain the token's azp, else its
	// client_id.
	ClientIDs []string
	// Type, when set, must match the JWS typ, e.g. "at+jwt" (RFC 9068);
	// "application/" may be left out on either side.
	Type string
	// MaxAge, when set, refuses tokens whose iat is older; iat is then
	// required.
	MaxAge time.Duration
	// ClockSkew is allowed on exp, nbf and iat. Default: 30 s.
	ClockSkew time.Duration
	// RequiredScopes must all be granted (403 insufficient_scope).
	RequiredScopes []string
	// AllowStringIAT accepts an iat sent as a decimal string, as SanteDB
	// 2.x does. Default: false (iat must be a JSON number).
	AllowStringIAT bool
	// Cookie and Query name a cookie or query parameter that may carry
	// this issuer's tokens besides the Authorization header.
	Cookie, Query string
	// Claims names the claims mapped to the principal.
	Claims ClaimNames
	// ApplicationConflict says what to do when the token names another
	// application than the client certificate proved.
	// Default: ConflictReject.
	ApplicationConflict Conflict
	// RefreshBurst and RefreshInterval rate-limit JWKS refetches.
	// Default: 3 per 30 s.
	RefreshBurst    int
	RefreshInterval time.Duration
	// Introspection, when set, verifies opaque tokens (RFC 7662).
	Introspection *IntrospectionConfig
	// Keys, when set, is used instead of a new RemoteKeys: it lets a key
	// set outlive configuration reloads.
	Keys *RemoteKeys
}

// ClaimNames lists, for each principal attribute, the claims to read; the
// first present wins.
type ClaimNames struct {
	// User: default sub, nameid.
	User []string
	// Name: default unique_name, preferred_username, name.
	Name []string
	// Role: default role, roles.
	Role []string
	// Application: default appid, client_id, azp.
	Application []string
	// Email: default email.
	Email []string
	// Scope: default scope, scp (space-separated string or array).
	Scope []string
	// AuthMethod: default authmethod, amr.
	AuthMethod []string
}

func (c *ClaimNames) setDefaults() {
	def := func(v *[]string, names ...string) {
		if len(*v) == 0 {
			*v = names
		}
	}
	def(&c.User, "sub", "nameid")
	def(&c.Name, "unique_name", "preferred_username", "name")
	def(&c.Role, "role", "roles")
	def(&c.Application, "appid", "client_id", "azp")
	def(&c.Email, "email")
	def(&c.Scope, "scope", "scp")
	def(&c.AuthMethod, "authmethod", "amr")
}

// Conflict is the rule for a token and a certificate naming different
// applications.
type Conflict uint8

const (
	// ConflictReject refuses the request (401).
	ConflictReject Conflict = iota
	// ConflictIgnore keeps the certificate's application and drops the
	// token's.
	ConflictIgnore
)

// ParseConflict reads reject or ignore.
func ParseConflict(s string) (Conflict, error) {
	switch s {
	case "reject":
		return ConflictReject, nil
	case "ignore":
		return ConflictIgnore, nil
	}
	return 0, fmt.Errorf("unknown application_conflict %q (want reject or ignore)", s)
}

// IntrospectionConfig configures RFC 7662 introspection of opaque tokens.
type IntrospectionConfig struct {
	// Endpoint is the introspection URL.
	Endpoint string
	// ClientID and ClientSecret authenticate the gateway
	// (client_secret_basic).
	ClientID, ClientSecret string
	// PositiveTTL caps how long an active answer is cached (never past
	// the token's exp). Default: 5 min.
	PositiveTTL time.Duration
	// NegativeTTL is how long an inactive answer is cached. Default: 10 s.
	NegativeTTL time.Duration
}

// normalize checks one issuer and fills its defaults.
func (c *IssuerConfig) normalize() error {
	if c.Issuer == "" {
		return fmt.Errorf("issuer is empty")
	}
	if len(c.Audiences) == 0 {
		return fmt.Errorf("issuer %s: audience is required (\"*\" accepts any)", c.Issuer)
	}
	if slices.Contains(c.Audiences, "*") && len(c.Audiences) > 1 {
		return fmt.Errorf("issuer %s: audience \"*\" cannot be combined with others", c.Issuer)
	}
	if len(c.Algorithms) == 0 {
		if len(c.HMACSecrets) > 0 {
			c.Algorithms = []string{"HS256"}
		} else {
			c.Algorithms = slices.Clone(asymmetricAlgs)
		}
	}
	hs := false
	for _, a := range c.Algorithms {
		switch {
		case a == "HS256":
			hs = true
		case slices.Contains(asymmetricAlgs, a):
		default:
			return fmt.Errorf("issuer %s: algorithm %q not supported (want HS256 or one of %s)",
				c.Issuer, a, strings.Join(asymmetricAlgs, " "))
		}
	}
	if hs && len(c.Algorithms) > 1 {
		return fmt.Errorf("issuer %s: HS256 cannot be combined with asymmetric algorithms", c.Issuer)
	}
	if hs != (len(c.HMACSecrets) > 0) {
		return fmt.Errorf("issuer %s: HS256 and hs256 secrets go together", c.Issuer)
	}
	if hs && (c.JWKSURL != "" || c.DiscoveryURL != "") {
		return fmt.Errorf("issuer %s: an HS256 issuer uses no jwks_uri or discovery", c.Issuer)
	}
	if c.ClockSkew < 0 || c.MaxAge < 0 {
		return fmt.Errorf("issuer %s: clock_skew and max_age cannot be negative", c.Issuer)
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = DefaultClockSkew
	}
	c.Claims.setDefaults()
	if in := c.Introspection; in != nil {
		if in.Endpoint == "" || in.ClientID == "" || in.ClientSecret == "" {
			return fmt.Errorf("issuer %s: introspection needs an endpoint, client_id and client_secret", c.Issuer)
		}
		if in.PositiveTTL <= 0 {
			in.PositiveTTL = DefaultPositiveTTL
		}
		if in.NegativeTTL <= 0 {
			in.NegativeTTL = DefaultNegativeTTL
		}
	}
	return nil
}
