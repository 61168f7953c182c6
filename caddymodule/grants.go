package caddymodule

import (
	"context"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/healthgate/healthgate/policy/grants"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func init() {
	caddy.RegisterModule(Grants{})
}

// Grants enforces SanteDB grant-type policies, denied or granted per device,
// application and security role and combined most-restrictively. At the
// token endpoint it reads the form body (bounded; the identity provider
// gets the same bytes) and answers a denied grant itself with an RFC 6749
// error (400 unauthorized_client); on other routes a token whose authmethod
// shows a denied grant is refused (403 grant_denied).
//
// Reason codes: grant_denied, device_required, token_request_malformed,
// body_too_large (see docs/grants.md).
type Grants struct {
	// Rules deny or grant grant-type policies.
	Rules []GrantRule `json:"rules,omitempty"`
	// TokenPaths are the token endpoint paths. Default: /auth/oauth2_token.
	TokenPaths []string `json:"token_paths,omitempty"`
	// MaxBody bounds the token request body, in bytes. Default: 64 KiB.
	MaxBody int64 `json:"max_body,omitempty"`
	// AllowClientCredentialsWithoutDevice lets client_credentials through
	// without a verified device (certificate or device_basic). Default:
	// false, as SanteDB.
	AllowClientCredentialsWithoutDevice bool `json:"allow_client_credentials_without_device,omitempty"`
	// AuthMethods maps further authmethod claim values (case-insensitive)
	// to grant types: client_credentials, password, authorization_code or
	// x_challenge.
	AuthMethods map[string]string `json:"authmethods,omitempty"`
	// Claims names the claims read. Default: see grants.ClaimNames.
	Claims grants.ClaimNames `json:"claims,omitzero"`

	policy *grants.GrantPolicy
}

// GrantRule denies or grants one policy to devices, applications or roles.
type GrantRule struct {
	// Effect is deny or grant.
	Effect string `json:"effect"`
	// Policy is a grant type (login, client_credentials, password,
	// authorization_code, x_challenge) or a policy OID.
	Policy string `json:"policy"`
	// Subject is device, application or role.
	Subject string `json:"subject"`
	// IDs are the device ids, application ids or role names.
	IDs []string `json:"ids"`
}

// CaddyModule returns the Caddy module information.
func (Grants) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "healthgate.policies.grants", New: func() caddy.Module { return new(Grants) }}
}

// Provision compiles the rules.
func (g *Grants) Provision(caddy.Context) error {
	rules := make([]grants.Rule, 0, len(g.Rules))
	for i, r := range g.Rules {
		rule, err := r.compile()
		if err != nil {
			return fmt.Errorf("grants rule %d: %w", i, err)
		}
		rules = append(rules, rule)
	}
	rs, err := grants.NewRules(rules)
	if err != nil {
		return fmt.Errorf("grants: %w", err)
	}
	methods := make(map[string]grants.Grant, len(g.AuthMethods))
	for v, gt := range g.AuthMethods {
		if _, err := grants.ParsePolicy(gt); err != nil || gt == "login" || strings.Contains(gt, ".") {
			return fmt.Errorf("grants authmethod %q: %q is not a grant type", v, gt)
		}
		methods[strings.ToLower(v)] = grants.Grant(gt)
	}
	g.policy = &grants.GrantPolicy{
		Rules: rs, TokenPaths: g.TokenPaths, MaxBody: g.MaxBody,
		AllowClientCredentialsWithoutDevice: g.AllowClientCredentialsWithoutDevice,
		AuthMethods:                         methods, Claims: g.Claims,
	}
	g.policy.Provision()
	return nil
}

func (r GrantRule) compile() (grants.Rule, error) {
	var eff grants.Effect
	switch r.Effect {
	case "deny":
		eff = grants.EffectDeny
	case "grant":
		eff = grants.EffectGrant
	default:
		return grants.Rule{}, fmt.Errorf("effect %q: want deny or grant", r.Effect)
	}
	oid, err := grants.ParsePolicy(r.Policy)
	if err != nil {
		return grants.Rule{}, err
	}
	kind, err := grants.ParseSubjectKind(r.Subject)
	if err != nil {
		return grants.Rule{}, err
	}
	if len(r.IDs) == 0 {
		return grants.Rule{}, fmt.Errorf("no %s named", r.Subject)
	}
	rule := grants.Rule{Effect: eff, Policy: oid}
	for _, id := range r.IDs {
		rule.Subjects = append(rule.Subjects, grants.Subject{Kind: kind, ID: id})
	}
	return rule, nil
}

// Decide implements pipeline.Policy.
func (g *Grants) Decide(ctx context.Context, req *pipeline.Request) pipeline.Decision {
	return g.policy.Decide(ctx, req)
}

// UnmarshalCaddyfile reads the grants sub-directive of healthgate:
//
//	grants {
//		deny  <grant|oid> device|application|role <id...>   # repeatable
//		grant <grant|oid> device|application|role <id...>   # repeatable
//		token_path <path...>                                # default /auth/oauth2_token
//		max_body   <size>                                   # default 64KiB
//		allow_client_credentials_without_device
//		authmethod <claim value> <grant>                    # e.g. authmethod Password password
//		claim      role|device|application|authmethod <claim name...>
//	}
//
// <grant> is login, client_credentials, password, authorization_code or
// x_challenge.
func (g *Grants) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // grants
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "deny", "grant":
			args := d.RemainingArgs()
			if len(args) < 3 {
				return d.Errf("grants %s: want <grant|oid> device|application|role <id...>", sub)
			}
			r := GrantRule{Effect: sub, Policy: args[0], Subject: args[1], IDs: args[2:]}
			if _, err := r.compile(); err != nil {
				return d.Errf("grants %s %s: %v", sub, strings.Join(args, " "), err)
			}
			g.Rules = append(g.Rules, r)
		case "token_path":
			paths := d.RemainingArgs()
			if len(paths) == 0 {
				return d.ArgErr()
			}
			g.TokenPaths = append(g.TokenPaths, paths...)
		case "max_body":
			n, err := parseSize(d, "grants max_body")
			if err != nil {
				return err
			}
			g.MaxBody = n
		case "allow_client_credentials_without_device":
			if d.NextArg() {
				return d.ArgErr()
			}
			g.AllowClientCredentialsWithoutDevice = true
		case "authmethod":
			var v, gt string
			if !d.AllArgs(&v, &gt) {
				return d.Errf("grants authmethod: want <claim value> <grant>")
			}
			if g.AuthMethods == nil {
				g.AuthMethods = make(map[string]string)
			}
			g.AuthMethods[v] = gt
		case "claim":
			if err := unmarshalClaim(d, "grants", &g.Claims); err != nil {
				return err
			}
		default:
			return d.Errf("grants: unknown option %q", sub)
		}
	}
	return nil
}

// DecidesAnonymous makes Grants decide over requests without credentials
// too: most token requests carry nothing the gateway verifies (the identity
// provider authenticates the client), and a denied grant must be refused
// before the provider sees it.
func (*Grants) DecidesAnonymous() {}

// Interface guards
var (
	_ pipeline.AnonymousDecider = (*Grants)(nil)
	_ caddy.Provisioner         = (*Grants)(nil)
	_ pipeline.Policy           = (*Grants)(nil)
	_ caddyfile.Unmarshaler     = (*Grants)(nil)
)
