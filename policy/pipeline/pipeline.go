package pipeline

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"strings"
	"time"
)

// Verifier turns one kind of credential into verified facts on the
// Principal.
type Verifier interface {
	// Verify returns ErrNoCredentials when the request carries none of
	// this verifier's credentials, nil when they verified (and the facts
	// are on req.Principal), and otherwise an error, usually a *Failure.
	// Any other error refuses the request.
	Verify(ctx context.Context, req *Request) error
}

// Challenger is implemented by verifiers that name an auth scheme for
// WWW-Authenticate when credentials are missing.
type Challenger interface {
	Challenge(realm string) string
}

// Policy decides over a verified request.
type Policy interface {
	Decide(ctx context.Context, req *Request) Decision
}

// AnonymousDecider is implemented by policies that must also decide over
// requests that pass without credentials (missing limit or ignore): a
// SanteDB grant-type rule at the token endpoint, where the identity
// provider, not the gateway, authenticates the client, and a denied grant
// must be refused before the provider sees it. Other policies judge
// authenticated principals only.
type AnonymousDecider interface {
	Policy
	DecidesAnonymous()
}

// NamedVerifier and NamedPolicy carry the name used in Route.Require,
// Request.Verified and audit records.
type NamedVerifier struct {
	Name string
	Verifier
}

type NamedPolicy struct {
	Name string
	Policy
}

// Pipeline is a configured sequence of verifiers and policies.
type Pipeline struct {
	// Verifiers run in order; a transport credential (the client
	// certificate) comes first so later verifiers can bind to it.
	Verifiers []NamedVerifier
	// Policies run for every authenticated request before the route's.
	Policies []NamedPolicy
	// Realm goes into WWW-Authenticate challenges.
	Realm string
	// OnVerify, when set, is told each verifier's result and duration
	// (for metrics). err is nil, ErrNoCredentials or the failure.
	OnVerify func(verifier string, err error, elapsed time.Duration)
}

// Outcome is the pipeline's verdict on one request.
type Outcome struct {
	// Effect is Allow or Deny, never Abstain.
	Effect Effect
	// Failure is set on Deny.
	Failure *Failure
	// Anonymous is set when the request passes without credentials
	// (public route, or missing limit / ignore).
	Anonymous bool
	// Decisions lists each policy that did not abstain, in order.
	Decisions []PolicyResult
}

// PolicyResult is one policy's decision, named.
type PolicyResult struct {
	Policy string
	Decision
}

// Run carries req through verification and decision. It never returns
// Abstain: what no policy refuses is allowed, once authentication held.
func (p *Pipeline) Run(ctx context.Context, req *Request) Outcome {
	route := req.Route
	if route == nil {
		route = &Route{}
		req.Route = route
	}
	if route.Public {
		return Outcome{Effect: Allow, Anonymous: true}
	}

	for _, v := range p.Verifiers {
		err := p.verify(ctx, v, req)
		switch {
		case err == nil:
			req.Verified = append(req.Verified, v.Name)
		case errors.Is(err, ErrNoCredentials):
		default:
			return p.deny(AsFailure(err))
		}
	}

	if len(req.Verified) == 0 {
		switch {
		case route.Missing == MissingIgnore,
			route.Missing == MissingLimit && safeRead(req.HTTP.Method):
			return p.decide(ctx, req, Outcome{Effect: Allow, Anonymous: true})
		}
		f := Unauthorized("credentials_missing", nil)
		f.Challenge = p.challenge()
		return Outcome{Effect: Deny, Failure: f}
	}

	for _, name := range route.Require {
		if !req.Has(name) {
			f := Unauthorized(name+"_required", nil)
			f.Challenge = p.challenge()
			return Outcome{Effect: Deny, Failure: f}
		}
	}

	return p.decide(ctx, req, Outcome{Effect: Allow})
}

// Judges yields the policies that judge req, in order: the global ones,
// then the route's; on an anonymous pass only AnonymousDeciders. The
// handler asks the same policies, and only those, to check the response.
func (p *Pipeline) Judges(req *Request, anonymous bool) iter.Seq[NamedPolicy] {
	return func(yield func(NamedPolicy) bool) {
		for _, set := range [][]NamedPolicy{p.Policies, req.Route.Policies} {
			for _, pol := range set {
				if _, ok := pol.Policy.(AnonymousDecider); anonymous && !ok {
					continue
				}
				if !yield(pol) {
					return
				}
			}
		}
	}
}

// decide runs the judging policies, deny-overrides.
func (p *Pipeline) decide(ctx context.Context, req *Request, out Outcome) Outcome {
	for pol := range p.Judges(req, out.Anonymous) {
		d := pol.Decide(ctx, req)
		if d.Effect == Abstain {
			continue
		}
		out.Decisions = append(out.Decisions, PolicyResult{Policy: pol.Name, Decision: d})
		if d.Effect == Deny {
			if d.Failure == nil {
				d.Failure = Forbidden("denied", nil)
			}
			out.Effect, out.Failure = Deny, d.Failure
			return out
		}
	}
	return out
}

func (p *Pipeline) verify(ctx context.Context, v NamedVerifier, req *Request) error {
	if p.OnVerify == nil {
		return v.Verify(ctx, req)
	}
	start := time.Now()
	err := v.Verify(ctx, req)
	p.OnVerify(v.Name, err, time.Since(start))
	return err
}

func (p *Pipeline) deny(f *Failure) Outcome {
	if f.Status == http.StatusUnauthorized && f.Challenge == "" {
		f.Challenge = p.challenge()
	}
	return Outcome{Effect: Deny, Failure: f}
}

// challenge lists the schemes of the configured verifiers.
func (p *Pipeline) challenge() string {
	realm := p.Realm
	if realm == "" {
		realm = "healthgate"
	}
	var cs []string
	for _, v := range p.Verifiers {
		if c, ok := v.Verifier.(Challenger); ok {
			if s := c.Challenge(realm); s != "" {
				cs = append(cs, s)
			}
		}
	}
	if len(cs) == 0 {
		// A certificate-only site still owes RFC 9110 a challenge.
		return `Bearer realm="` + realm + `"`
	}
	return strings.Join(cs, ", ")
}

// safeRead reports whether a method only reads (RFC 9110 §9.2.1); limited
// anonymous access allows no more than that.
func safeRead(method string) bool { return method == http.MethodGet || method == http.MethodHead }
