package grants

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// DefaultTokenPath is SanteDB's token endpoint.
const DefaultTokenPath = "/auth/oauth2_token"

// GrantPolicy enforces SanteDB grant-type policies. At the token endpoint it
// reads the token request and refuses a denied grant before the identity
// provider sees it; on every other route it reads the grant from the
// token's authmethod claim, so a denial on a role, known only after login,
// still holds.
type GrantPolicy struct {
	// Rules grant or deny policies to devices, applications and roles.
	Rules *Rules
	// TokenPaths are the token endpoint paths. Default: DefaultTokenPath.
	TokenPaths []string
	// MaxBody bounds the token request body, in bytes. Default:
	// DefaultMaxForm (64 KiB).
	MaxBody int64
	// AllowClientCredentialsWithoutDevice lets client_credentials through
	// without a verified device. Default: false (SanteDB: "application
	// principals can only be created if the device is known").
	AllowClientCredentialsWithoutDevice bool
	// AuthMethods maps lower-cased authmethod values to grants, in
	// addition to the built-in ones (password, client_credentials, …).
	AuthMethods map[string]Grant
	// Claims names the claims read. Zero value: the defaults.
	Claims ClaimNames
}

// Provision fills defaults. Call it once before Decide.
func (g *GrantPolicy) Provision() {
	if len(g.TokenPaths) == 0 {
		g.TokenPaths = []string{DefaultTokenPath}
	}
	if g.MaxBody <= 0 {
		g.MaxBody = DefaultMaxForm
	}
	g.Claims = g.Claims.WithDefaults()
}

// Decide implements pipeline.Policy.
func (g *GrantPolicy) Decide(_ context.Context, req *pipeline.Request) pipeline.Decision {
	if req.HTTP.Method == http.MethodPost && isTokenPath(g.TokenPaths, req.HTTP.URL.Path) {
		return g.decideTokenRequest(req)
	}
	return g.decideResource(req)
}

// isTokenPath reports whether p is one of paths (default: DefaultTokenPath)
// as the identity provider routes it: case-insensitively and whatever its
// extra or trailing slashes and dot segments (as Caddy's path matcher also
// matches), so that /AUTH/oauth2_token/ cannot reach the provider as
// another path than the token endpoint.
func isTokenPath(paths []string, p string) bool {
	if len(paths) == 0 {
		paths = []string{DefaultTokenPath}
	}
	p = path.Clean("/" + p)
	return slices.ContainsFunc(paths, func(t string) bool { return strings.EqualFold(path.Clean("/"+t), p) })
}

// decideTokenRequest checks a token request against the rules of its device
// and application.
func (g *GrantPolicy) decideTokenRequest(req *pipeline.Request) pipeline.Decision {
	form, err := readForm(req, g.MaxBody)
	if err != nil {
		var f *pipeline.Failure
		if errors.As(err, &f) {
			return pipeline.Denied(f)
		}
		return pipeline.Denied(oauthError(http.StatusBadRequest, ReasonTokenRequestMalformed,
			"invalid_request", "the token request is not a valid form", err))
	}
	gt := form["grant_type"]
	if len(gt) != 1 || gt[0] == "" {
		return pipeline.Denied(oauthError(http.StatusBadRequest, ReasonTokenRequestMalformed,
			"invalid_request", "grant_type must be given once", fmt.Errorf("grants: %d grant_type parameters", len(gt))))
	}
	if ids := form["client_id"]; len(ids) > 1 {
		// The provider takes one of them; which one is its choice, and
		// the rules must judge the one it takes.
		return pipeline.Denied(oauthError(http.StatusBadRequest, ReasonTokenRequestMalformed,
			"invalid_request", "client_id must be given at most once", fmt.Errorf("grants: %d client_id parameters", len(ids))))
	}
	grant := Grant(gt[0])
	// SanteDB reads client claims on the token request: refuse what it
	// would misread (the override itself is checked on resource routes,
	// against the token it yields).
	if cc := req.HTTP.Header.Values(ClientClaimHeader); len(cc) > 0 {
		_, err := ParseClientClaims(cc[0])
		if len(cc) > 1 {
			err = errors.New("grants: more than one client claim header")
		}
		if err != nil {
			return pipeline.Denied(oauthError(http.StatusBadRequest, ReasonClaimMalformed,
				"invalid_request", "the client claims are malformed", err), "grant:"+string(grant))
		}
	}
	p := &req.Principal
	device := p.Device.Proven()
	if grant == ClientCredentials && !device && !g.AllowClientCredentialsWithoutDevice {
		return pipeline.Denied(oauthError(http.StatusBadRequest, ReasonDeviceRequired,
			"unauthorized_client", "client_credentials requires device authentication", nil), "grant:"+string(grant))
	}
	var subjects []Subject
	if device {
		subjects = append(subjects, Subject{SubjectDevice, p.Device.ID})
	}
	if app := tokenRequestClient(req, form); app != "" {
		subjects = append(subjects, Subject{SubjectApplication, app})
	}
	demanded := PolicyFor(grant, device)
	if d := g.Rules.Check(subjects, demanded); d != nil {
		return pipeline.Denied(oauthError(http.StatusBadRequest, ReasonGrantDenied,
			"unauthorized_client", "the grant type is not allowed for this client", denialErr(grant, demanded, d)),
			"grant:"+string(grant), "denied:"+d.Policy, d.Subject.String())
	}
	return pipeline.Allowed("grant:"+string(grant), demanded)
}

// tokenRequestClient returns the OAuth client of a token request: the
// client_id parameter, else the user of an Authorization: Basic header that
// no verifier took as a device (client_secret_basic). Neither is verified
// here (the identity provider does that), and neither needs to be: a
// client that names another client id is authenticated as that client.
func tokenRequestClient(req *pipeline.Request, form url.Values) string {
	if ids := form["client_id"]; len(ids) == 1 {
		return ids[0]
	}
	if user, _, ok := req.HTTP.BasicAuth(); ok && (req.Principal.Device == nil || req.Principal.Device.ID != user) {
		return user
	}
	return ""
}

// decideResource checks the grant a token was issued by against the rules
// of the token's device, application and roles.
func (g *GrantPolicy) decideResource(req *pipeline.Request) pipeline.Decision {
	p := &req.Principal
	if p.Token == nil {
		return pipeline.Abstained()
	}
	method := firstClaim(p, g.Claims.AuthMethod)
	if method == "" {
		method = p.Token.AuthMethod
	}
	grant, known := g.AuthMethods[strings.ToLower(method)]
	if !known {
		grant, known = defaultAuthMethods[strings.ToLower(method)]
	}
	demanded := OIDOAuthLogin
	if known {
		demanded = PolicyFor(grant, deviceOf(p, &g.Claims) != "")
	}
	if d := g.Rules.Check(subjectsOf(p, &g.Claims), demanded); d != nil {
		return pipeline.Denied(pipeline.Forbidden(ReasonGrantDenied, denialErr(grant, demanded, d)),
			"grant:"+string(grant), "denied:"+d.Policy, d.Subject.String())
	}
	return pipeline.Abstained()
}

func denialErr(g Grant, demanded string, d *Denial) error {
	return fmt.Errorf("grants: grant %q demands %s, denied to %s by its rule on %s", g, demanded, d.Subject, d.Policy)
}
