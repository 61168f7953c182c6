// Package caddymodule adapts healthgate to Caddy: the http.handlers.healthgate
// handler, its Caddyfile directive, placeholders and the `caddy healthgate`
// commands. The logic lives in policy/... and wasmfilter; this package only
// wires it.
package caddymodule

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler carries every request through the healthgate pipeline:
// credentials → principal → decision → effects. Requests it refuses never
// reach the next handler; requests it allows continue with client-supplied
// identity headers removed and the verified identity set.
//
// It sets these placeholders for the handlers that follow:
//
//	{http.auth.user.id}              the most specific proven identity
//	{healthgate.device.id}           and .proof, likewise for application and user
//	{healthgate.user.name}
//	{healthgate.anonymous}           "true" for an anonymous pass
//	{healthgate.scopes}              granted scopes, space-separated
//	{healthgate.purpose_of_use}      accepted purposes of use, space-separated
//	{healthgate.override}            "true" after an accepted break-the-glass
//	{healthgate.claim.<name>}        a verified claim (values space-separated)
//	{healthgate.cert.sha256}         and .sha1, .subject, .issuer, .serial
//	{healthgate.token.iss}           and .sub, .client_id, .jti, .authmethod
//	{healthgate.route}               the matched route's name
//	{healthgate.decision}            allow or deny
//	{healthgate.reason}              the stable reason code of a refusal
type Handler struct {
	// Verifiers turn credentials into a principal, in priority order
	// (client certificates first).
	VerifiersRaw []json.RawMessage `json:"verifiers,omitempty" caddy:"namespace=healthgate.verifiers inline_key=verifier"`
	// Policies decide over every authenticated request, before the
	// matched route's policies. Deny overrides.
	PoliciesRaw []json.RawMessage `json:"policies,omitempty" caddy:"namespace=healthgate.policies inline_key=policy"`

	// Public lists path patterns that pass without credentials, such as
	// FHIR's /metadata and /.well-known/*. Caddy path-matcher syntax.
	Public []string `json:"public,omitempty"`
	// Missing says what happens to requests without credentials on
	// routes that are not public: reject, limit or ignore.
	// Default: reject.
	Missing string `json:"missing,omitempty"`
	// Require names verifiers whose credentials every non-public request
	// must carry, e.g. ["client_cert"] (SanteDB: certificate on every
	// endpoint, even with a valid token).
	Require []string `json:"require,omitempty"`
	// Routes refine the defaults above for path patterns. The first
	// route whose paths match applies; public patterns are checked first.
	Routes []*RouteConfig `json:"routes,omitempty"`

	// Realm is sent in WWW-Authenticate challenges. Default: healthgate.
	Realm string `json:"realm,omitempty"`
	// UpstreamHeaders names the headers that carry the verified identity
	// to the upstream. Default: X-Healthgate-* (see UpstreamHeaders).
	UpstreamHeaders *UpstreamHeaders `json:"upstream_headers,omitempty"`
	// StripHeaders lists further request headers to remove before the
	// upstream sees the request, in addition to the identity headers and
	// every forwarded-certificate header, which are always removed.
	StripHeaders []string `json:"strip_headers,omitempty"`
	// FHIRBase is the path of the FHIR base ("/fhir"; "/" for the root),
	// the default of the components that classify FHIR requests and have
	// no base of their own: smart's base, rule's and audit's fhir_base.
	// They share one classification per request (pipeline.Request.FHIR).
	// Default: none (smart then uses the root; rules and audit records get
	// no FHIR facts).
	FHIRBase string `json:"fhir_base,omitempty"`
	// Audit configures the decision records (always written, to the
	// logger named by AuditLoggerName) and optional AuditEvent shipping.
	Audit *AuditConfig `json:"audit,omitempty"`

	pipeline *pipeline.Pipeline
	auditor  *auditor
	public   *route
	routes   []*route
	fallback *route
	effects  *effects
	logger   *zap.Logger
	cleanups []caddy.CleanerUpper
}

// RouteConfig is the configuration of one route.
type RouteConfig struct {
	// Name identifies the route in logs and audit records.
	// Default: the first path.
	Name string `json:"name,omitempty"`
	// Paths are Caddy path-matcher patterns.
	Paths []string `json:"paths"`
	// Public makes the route pass without credentials.
	Public bool `json:"public,omitempty"`
	// Missing overrides the handler's missing-credentials mode.
	Missing string `json:"missing,omitempty"`
	// Require adds verifiers whose credentials this route requires, e.g.
	// ["client_cert"] on SanteDB's /auth/oauth2_token.
	Require []string `json:"require,omitempty"`
	// Policies decide after the handler's policies, deny-overrides.
	PoliciesRaw []json.RawMessage `json:"policies,omitempty" caddy:"namespace=healthgate.policies inline_key=policy"`
}

// route is a provisioned RouteConfig.
type route struct {
	match caddyhttp.MatchPath
	pipeline.Route
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.healthgate",
		New: func() caddy.Module { return new(Handler) },
	}
}

// prioritized is implemented by verifiers and policies that must run before
// or after others; lower runs first. The default is 50.
type prioritized interface{ Priority() int }

// Provision loads the verifiers and policies and builds the routes.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := checkFHIRBase(h.FHIRBase); err != nil {
		return err
	}

	verifiers, err := h.loadVerifiers(ctx)
	if err != nil {
		return err
	}
	policies, err := h.loadPolicies(ctx, h, "PoliciesRaw")
	if err != nil {
		return fmt.Errorf("loading healthgate policies: %w", err)
	}
	h.pipeline = &pipeline.Pipeline{Verifiers: verifiers, Policies: policies, Realm: h.Realm}

	if h.auditor, err = newAuditor(ctx, h.Audit); err != nil {
		return err
	}
	h.pipeline.OnVerify = func(name string, err error, elapsed time.Duration) {
		h.auditor.obs.Verification(name, audit.VerificationResult(err), elapsed)
	}

	missing, err := pipeline.ParseMissing(cmp.Or(h.Missing, "reject"))
	if err != nil {
		return fmt.Errorf("healthgate missing: %w", err)
	}
	if err := h.checkRequire(h.Require, "default"); err != nil {
		return err
	}
	h.fallback = &route{Route: pipeline.Route{Name: "default", Missing: missing, Require: h.Require}}

	if len(h.Public) > 0 {
		h.public = &route{match: caddyhttp.MatchPath(h.Public), Route: pipeline.Route{Name: "public", Public: true}}
		if err := h.public.match.Provision(ctx); err != nil {
			return fmt.Errorf("healthgate public %v: %w", h.Public, err)
		}
	}
	for i, rc := range h.Routes {
		rt, err := h.provisionRoute(ctx, rc, missing)
		if err != nil {
			return fmt.Errorf("healthgate route %d (%v): %w", i, rc.Paths, err)
		}
		h.routes = append(h.routes, rt)
	}

	h.effects, err = newEffects(h.UpstreamHeaders, h.StripHeaders)
	if err != nil {
		return fmt.Errorf("healthgate upstream_headers: %w", err)
	}
	return nil
}

func (h *Handler) loadVerifiers(ctx caddy.Context) ([]pipeline.NamedVerifier, error) {
	vs, err := loadModules(ctx, h, h, "VerifiersRaw", func(name string, v pipeline.Verifier) pipeline.NamedVerifier {
		return pipeline.NamedVerifier{Name: name, Verifier: v}
	})
	if err != nil {
		return nil, fmt.Errorf("loading healthgate verifiers: %w", err)
	}
	slices.SortStableFunc(vs, func(a, b pipeline.NamedVerifier) int {
		return cmp.Compare(priority(a.Verifier), priority(b.Verifier))
	})
	return vs, nil
}

// loadPolicies loads policies in priority order: the built-in ones as
// configured, site rules (priority 100) after them.
func (h *Handler) loadPolicies(ctx caddy.Context, owner any, field string) ([]pipeline.NamedPolicy, error) {
	ps, err := loadModules(ctx, h, owner, field, func(name string, p pipeline.Policy) pipeline.NamedPolicy {
		return pipeline.NamedPolicy{Name: name, Policy: p}
	})
	slices.SortStableFunc(ps, func(a, b pipeline.NamedPolicy) int {
		return cmp.Compare(priority(a.Policy), priority(b.Policy))
	})
	return ps, err
}

// loadModules loads the modules of owner's field, checks that each is an I
// and names it by its module name.
func loadModules[I, N any](ctx caddy.Context, h *Handler, owner any, field string, named func(string, I) N) ([]N, error) {
	mods, err := ctx.LoadModule(owner, field)
	if err != nil {
		return nil, err
	}
	var out []N
	for i, m := range mods.([]any) {
		h.track(m)
		v, ok := m.(I)
		if !ok {
			return nil, fmt.Errorf("module %d (%T) is not a %T", i, m, (*I)(nil))
		}
		out = append(out, named(moduleName(m), v))
	}
	return out, nil
}

func (h *Handler) provisionRoute(ctx caddy.Context, rc *RouteConfig, missingDefault pipeline.Missing) (*route, error) {
	if len(rc.Paths) == 0 {
		return nil, fmt.Errorf("a route needs at least one path")
	}
	rt := &route{match: caddyhttp.MatchPath(rc.Paths)}
	if err := rt.match.Provision(ctx); err != nil {
		return nil, err
	}
	rt.Name = cmp.Or(rc.Name, rc.Paths[0])
	rt.Public = rc.Public
	rt.Missing = missingDefault
	if rc.Missing != "" {
		m, err := pipeline.ParseMissing(rc.Missing)
		if err != nil {
			return nil, fmt.Errorf("missing: %w", err)
		}
		rt.Missing = m
	}
	if err := h.checkRequire(rc.Require, rt.Name); err != nil {
		return nil, err
	}
	rt.Require = slices.Concat(h.Require, rc.Require)
	policies, err := h.loadPolicies(ctx, rc, "PoliciesRaw")
	if err != nil {
		return nil, fmt.Errorf("loading policies: %w", err)
	}
	rt.Policies = policies
	return rt, nil
}

// checkFHIRBase refuses a fhir_base that is not a path: a parser would
// otherwise read "fhir" as "/fhir" for some components and not others.
func checkFHIRBase(base string) error {
	if base != "" && !strings.HasPrefix(base, "/") {
		return fmt.Errorf("healthgate fhir_base %q: want a path starting with /", base)
	}
	return nil
}

// checkRequire refuses a requirement no configured verifier can meet, which
// would otherwise refuse every request on the route.
func (h *Handler) checkRequire(names []string, route string) error {
	for _, n := range names {
		if !slices.ContainsFunc(h.pipeline.Verifiers, func(v pipeline.NamedVerifier) bool { return v.Name == n }) {
			return fmt.Errorf("healthgate require %q (route %q): no %s verifier is configured", n, route, n)
		}
	}
	return nil
}

func (h *Handler) track(m any) {
	if c, ok := m.(caddy.CleanerUpper); ok {
		h.cleanups = append(h.cleanups, c)
	}
}

// Cleanup releases what the verifiers and policies hold. It works after a
// failed Provision.
func (h *Handler) Cleanup() error {
	h.auditor.cleanup()
	var errs []error
	for _, c := range h.cleanups {
		if err := c.Cleanup(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cleaning up healthgate: %v", errs)
	}
	return nil
}

// ServeHTTP runs the pipeline and, if it allows, the next handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("healthgate: no replacer in request context"))
	}
	rt, err := h.route(r)
	if err != nil {
		return caddyhttp.Error(http.StatusBadRequest, err)
	}
	req := pipeline.NewRequest(r, &rt.Route, time.Now())
	req.TrustedHop, _ = caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	req.ClientIP, _ = caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	req.FHIRBase = h.FHIRBase
	defer req.Finish()

	out := h.pipeline.Run(r.Context(), req)
	if out.Effect == pipeline.Allow {
		if f := h.effects.apply(req, out); f != nil {
			out = pipeline.Outcome{Effect: pipeline.Deny, Failure: f, Decisions: out.Decisions}
		}
	}
	setPlaceholders(repl, req, &out)
	if out.Effect != pipeline.Allow {
		err := h.refuse(w, req, out.Failure)
		h.auditor.record(req, out, out.Failure.Status, time.Since(req.Now))
		return err
	}

	if checkers, limit := h.responseCheckers(req, out.Anonymous); len(checkers) > 0 {
		return h.serveChecked(w, r, next, req, &out, checkers, limit)
	}
	sw := &statusWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}}
	err = next.ServeHTTP(sw, r)
	h.auditor.record(req, out, sw.statusAfter(err), time.Since(req.Now))
	return err
}

// serveChecked holds the upstream's answer until the policies that asked
// to see it (a SMART patient compartment, say) have checked it.
func (h *Handler) serveChecked(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler,
	req *pipeline.Request, out *pipeline.Outcome, checkers []pipeline.ResponseChecker, limit int64) error {
	rec := newBoundedRecorder(limit)
	if err := next.ServeHTTP(rec, r); err != nil {
		h.auditor.record(req, *out, (&statusWriter{}).statusAfter(err), time.Since(req.Now))
		return err
	}
	if f := checkResponse(req, checkers, rec); f != nil {
		// The placeholders read *out, so they now say deny too.
		*out = pipeline.Outcome{Effect: pipeline.Deny, Failure: f, Decisions: out.Decisions}
		err := h.refuse(w, req, f)
		h.auditor.record(req, *out, f.Status, time.Since(req.Now))
		return err
	}
	err := rec.send(w)
	h.auditor.record(req, *out, rec.status(), time.Since(req.Now))
	return err
}

// route picks the route for r: public patterns, then routes in order, then
// the handler's defaults.
func (h *Handler) route(r *http.Request) (*route, error) {
	if h.public != nil {
		if ok, err := h.public.match.MatchWithError(r); err != nil || ok {
			return h.public, err
		}
	}
	for _, rt := range h.routes {
		if ok, err := rt.match.MatchWithError(r); err != nil || ok {
			return rt, err
		}
	}
	return h.fallback, nil
}

// refuse answers a Failure: headers and an optional fixed body here, else a
// Caddy error so handle_errors can render it. The detail goes to the log
// only.
func (h *Handler) refuse(w http.ResponseWriter, req *pipeline.Request, f *pipeline.Failure) error {
	if f == nil {
		f = pipeline.Forbidden("denied", nil)
	}
	if c := h.logger.Check(zap.DebugLevel, "request refused"); c != nil {
		c.Write(zap.String("route", req.Route.Name), zap.Int("status", f.Status),
			zap.String("reason", f.Reason), zap.Error(f.Err))
	}
	hdr := w.Header()
	for k, vs := range f.Header {
		hdr[k] = vs
	}
	if f.Challenge != "" {
		hdr.Set("WWW-Authenticate", f.Challenge)
	}
	hdr.Set("Cache-Control", "no-store")
	if f.Body != nil {
		hdr.Set("Content-Type", cmp.Or(f.ContentType, "application/json"))
		w.WriteHeader(f.Status)
		_, err := w.Write(f.Body)
		return err
	}
	return caddyhttp.Error(f.Status, fmt.Errorf("healthgate: %s", f.Reason))
}

func priority(v any) int {
	if p, ok := v.(prioritized); ok {
		return p.Priority()
	}
	return 50
}

// moduleName is the last label of a module's ID: "client_cert" for
// healthgate.verifiers.client_cert.
func moduleName(m any) string {
	if cm, ok := m.(caddy.Module); ok {
		return cm.CaddyModule().ID.Name()
	}
	return fmt.Sprintf("%T", m)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
