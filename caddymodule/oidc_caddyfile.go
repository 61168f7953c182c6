package caddymodule

import (
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/healthgate/healthgate/policy/oidc"
)

// UnmarshalCaddyfile reads one oidc sub-directive of healthgate; each
// repetition adds an issuer to the same verifier:
//
//	oidc <issuer> {
//		audience      <aud...>               # required; * = any
//		discovery     <base url>             # default <issuer>; SanteDB: https://host:8443/auth
//		jwks_uri      <url>                  # instead of discovery
//		algorithms    <alg...>               # default: asymmetric ones, or HS256 with secrets
//		hs256_secret  [<kid>] <secret>       # repeatable; {env.X} placeholders; kid = SanteDB application id
//		client_id     <id...>                # accepted azp / client_id
//		typ           <typ>                  # e.g. at+jwt
//		max_age       <duration>
//		clock_skew    <duration>             # default 30s
//		require_scope <scope...>
//		allow_string_iat                     # SanteDB 2.x
//		from_cookie   <name>
//		from_query    <name>
//		claims {
//			user|name|role|application|email|scope|authmethod <claim...>
//		}
//		application_conflict reject|ignore   # default reject
//		jwks_refresh_limit <n>/<interval>    # default 3/30s
//		introspection <endpoint> {
//			client_id     <id>
//			client_secret <secret>           # {env.X}
//			cache_ttl     <duration>         # default 5m
//			negative_ttl  <duration>         # default 10s
//		}
//		# for the whole verifier, in any oidc block:
//		max_token_size <size>                # default 8KiB
//		cache_size     <entries>             # default 10000; -1 = off
//		realm          <name>                # default healthgate
//		http_timeout   <duration>            # default 10s
//	}
func (o *OIDC) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // oidc
	is := &OIDCIssuer{}
	if !d.Args(&is.Issuer) {
		return d.Errf("oidc: the issuer (the tokens' iss) is required")
	}
	if d.NextArg() {
		return d.Errf("oidc %s: one issuer per oidc block, got also %q", is.Issuer, d.Val())
	}
	for _, have := range o.Issuers {
		if have.Issuer == is.Issuer {
			return d.Errf("oidc %s: issuer given twice", is.Issuer)
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := o.unmarshalOption(d, is); err != nil {
			return err
		}
	}
	o.Issuers = append(o.Issuers, is)
	return nil
}

func (o *OIDC) unmarshalOption(d *caddyfile.Dispenser, is *OIDCIssuer) error {
	sub := d.Val()
	// list reads one or more arguments.
	list := func(dst *[]string) error {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.Errf("oidc %s %s: at least one value required", is.Issuer, sub)
		}
		*dst = append(*dst, args...)
		return nil
	}
	one := func(dst *string) error {
		if !d.AllArgs(dst) {
			return d.Errf("oidc %s %s: exactly one value required", is.Issuer, sub)
		}
		return nil
	}
	duration := func(dst *caddy.Duration) error {
		var s string
		if err := one(&s); err != nil {
			return err
		}
		v, err := caddy.ParseDuration(s)
		if err != nil || v < 0 {
			return d.Errf("oidc %s %s: %q is not a duration", is.Issuer, sub, s)
		}
		*dst = caddy.Duration(v)
		return nil
	}
	integer := func(dst *int) error {
		var s string
		if err := one(&s); err != nil {
			return err
		}
		v, err := strconv.Atoi(s)
		if err != nil {
			return d.Errf("oidc %s %s: %q is not an integer", is.Issuer, sub, s)
		}
		*dst = v
		return nil
	}
	switch sub {
	case "audience", "audiences":
		return list(&is.Audiences)
	case "discovery":
		return one(&is.Discovery)
	case "jwks_uri":
		return one(&is.JWKSURI)
	case "algorithms":
		return list(&is.Algorithms)
	case "hs256_secret":
		args := d.RemainingArgs()
		switch len(args) {
		case 1:
			is.HS256Secrets = append(is.HS256Secrets, OIDCSecret{Secret: args[0]})
		case 2:
			is.HS256Secrets = append(is.HS256Secrets, OIDCSecret{KeyID: args[0], Secret: args[1]})
		default:
			return d.Errf("oidc %s hs256_secret: want [<kid>] <secret>", is.Issuer)
		}
	case "client_id":
		return list(&is.ClientIDs)
	case "typ":
		return one(&is.Typ)
	case "max_age":
		return duration(&is.MaxAge)
	case "clock_skew":
		return duration(&is.ClockSkew)
	case "require_scope":
		return list(&is.RequireScopes)
	case "allow_string_iat":
		if d.NextArg() {
			return d.ArgErr()
		}
		is.AllowStringIAT = true
	case "from_cookie":
		return one(&is.FromCookie)
	case "from_query":
		return one(&is.FromQuery)
	case "claims":
		return unmarshalOIDCClaims(d, is)
	case "application_conflict":
		if err := one(&is.ApplicationConflict); err != nil {
			return err
		}
		if _, err := oidc.ParseConflict(is.ApplicationConflict); err != nil {
			return d.Errf("oidc %s: %v", is.Issuer, err)
		}
	case "jwks_refresh_limit":
		var s string
		if err := one(&s); err != nil {
			return err
		}
		n, per, err := parseRefreshLimit(s)
		if err != nil {
			return d.Errf("oidc %s jwks_refresh_limit %q: want <n>/<interval> such as 3/30s", is.Issuer, s)
		}
		is.JWKSRefreshBurst, is.JWKSRefreshInterval = n, caddy.Duration(per)
	case "introspection":
		return unmarshalOIDCIntrospection(d, is)
	case "max_token_size":
		n, err := parseSize(d, "oidc "+is.Issuer+" max_token_size")
		if err != nil {
			return err
		}
		o.MaxTokenBytes = int(n)
	case "cache_size":
		return integer(&o.CacheSize)
	case "realm":
		return one(&o.Realm)
	case "http_timeout":
		return duration(&o.HTTPTimeout)
	default:
		return d.Errf("oidc %s: unknown option %q", is.Issuer, sub)
	}
	return nil
}

func unmarshalOIDCClaims(d *caddyfile.Dispenser, is *OIDCIssuer) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	c := &OIDCClaims{}
	fields := map[string]*[]string{"user": &c.User, "name": &c.Name, "role": &c.Role, "application": &c.Application,
		"email": &c.Email, "scope": &c.Scope, "authmethod": &c.AuthMethod}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		f, ok := fields[d.Val()]
		if !ok {
			return d.Errf("oidc %s claims: unknown attribute %q (want user, name, role, application, email, scope or authmethod)", is.Issuer, d.Val())
		}
		if *f = d.RemainingArgs(); len(*f) == 0 {
			return d.Errf("oidc %s claims %s: name at least one claim", is.Issuer, d.Val())
		}
	}
	is.Claims = c
	return nil
}

func unmarshalOIDCIntrospection(d *caddyfile.Dispenser, is *OIDCIssuer) error {
	in := &OIDCIntrospection{}
	if !d.Args(&in.Endpoint) {
		return d.Errf("oidc %s introspection: the endpoint URL is required", is.Issuer)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		var s string
		if !d.AllArgs(&s) {
			return d.Errf("oidc %s introspection %s: exactly one value required", is.Issuer, sub)
		}
		switch sub {
		case "client_id":
			in.ClientID = s
		case "client_secret":
			in.ClientSecret = s
		case "cache_ttl", "negative_ttl":
			v, err := caddy.ParseDuration(s)
			if err != nil || v <= 0 {
				return d.Errf("oidc %s introspection %s: %q is not a positive duration", is.Issuer, sub, s)
			}
			if sub == "cache_ttl" {
				in.CacheTTL = caddy.Duration(v)
			} else {
				in.NegativeTTL = caddy.Duration(v)
			}
		default:
			return d.Errf("oidc %s introspection: unknown option %q", is.Issuer, sub)
		}
	}
	if in.ClientID == "" || in.ClientSecret == "" {
		return d.Errf("oidc %s introspection: client_id and client_secret are required", is.Issuer)
	}
	is.Introspection = in
	return nil
}

// parseRefreshLimit reads "<n>/<interval>", e.g. 3/30s.
func parseRefreshLimit(s string) (int, time.Duration, error) {
	ns, ds, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(ns)
	if !ok || err != nil || n < 1 {
		return 0, 0, strconv.ErrSyntax
	}
	per, err := caddy.ParseDuration(ds)
	if err != nil || per <= 0 {
		return 0, 0, strconv.ErrSyntax
	}
	return n, per, nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*OIDC)(nil)
