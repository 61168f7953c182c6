package wasmfilter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// Set evaluates rules in order as one pipeline.Policy: the first deny wins
// (deny-overrides), abstentions are skipped, an allow applies the rule's
// obligations before the next rule runs, and a failed evaluation refuses.
type Set struct {
	Rules []*Rule
	// Headers are the lower-cased request headers rules may see.
	Headers []string
	// AllAbstain is the decision when every rule abstains: pipeline.Deny,
	// pipeline.Allow or pipeline.Abstain (leave it to other policies).
	AllAbstain pipeline.Effect
	// ErrorStatus answers a failed evaluation. Default: 503.
	ErrorStatus int
	// FHIR describes a request's FHIR interaction, if set.
	FHIR func(*pipeline.Request) FHIRFacts
	// Logger receives failed evaluations. Default: none.
	Logger *zap.Logger
	// Observer receives each evaluation's result and duration. Default:
	// none.
	Observer Observer
}

// Observer receives measurements of rule evaluations; policy/audit's
// Observer is one.
type Observer interface {
	// WASMEvaluation counts one evaluation by result: allow, deny,
	// abstain or error.
	WASMEvaluation(rule, result string, elapsed time.Duration)
	// WASMPoolSaturated counts an evaluation refused because no instance
	// became free in time.
	WASMPoolSaturated(rule string)
}

// Decide implements pipeline.Policy.
func (s *Set) Decide(_ context.Context, req *pipeline.Request) pipeline.Decision {
	in := NewInput(req, s.Headers, s.FHIR)
	// The claims the principal came with: verified, or set by a built-in
	// policy. Apply copies the map before it changes it, so this stays
	// the original.
	verified := req.Principal.Claims
	var allowed []string
	for _, r := range s.Rules {
		ground := "rule:" + r.Name()
		start := time.Now()
		res, err := r.Evaluate(in)
		s.observe(r.Name(), res, err, time.Since(start))
		if err != nil {
			return pipeline.Denied(s.failure(err), ground)
		}
		switch res.Effect {
		case pipeline.Deny:
			f := pipeline.Refuse(res.DenyStatus(), res.DenyCode(),
				fmt.Errorf("wasmfilter: rule %q denied: %s", r.Name(), res.Reason))
			return pipeline.Denied(f, ground)
		case pipeline.Allow:
			if err := shadows(verified, res.Obligations.Claims); err != nil {
				return pipeline.Denied(s.failure(r.fail(ClassABI, err)), ground)
			}
			if !res.Obligations.Empty() {
				res.Obligations.Apply(req)
				in.Principal = req.Principal
				in.Changed()
			}
			allowed = append(allowed, ground)
		}
	}
	if len(allowed) > 0 {
		return pipeline.Allowed(allowed...)
	}
	switch s.AllAbstain {
	case pipeline.Deny:
		return pipeline.Denied(pipeline.Forbidden("rules_abstained", errors.New("wasmfilter: every rule abstained")), "rules:abstained")
	case pipeline.Allow:
		return pipeline.Allowed("rules:abstained")
	}
	return pipeline.Abstained()
}

// shadows reports an error if a claim obligation would replace a claim the
// principal came with: a rule adds claims, it never rewrites verified ones
// (a role, a patient), whatever its allow-list says.
func shadows(verified, set map[string][]string) error {
	for name := range set {
		if _, ok := verified[name]; ok {
			return abiError("obligation sets claim %q, which the principal already carries from verification", name)
		}
	}
	return nil
}

func (s *Set) observe(rule string, res Result, err error, elapsed time.Duration) {
	if s.Observer == nil {
		return
	}
	result := res.Effect.String()
	if err != nil {
		result = "error"
		if errors.Is(err, ErrPoolTimeout) {
			s.Observer.WASMPoolSaturated(rule)
		}
	}
	s.Observer.WASMEvaluation(rule, result, elapsed)
}

// failure answers a failed evaluation: never an allow, a generic status, the
// detail only in Failure.Err and the log.
func (s *Set) failure(err error) *pipeline.Failure {
	var ee *EvalError
	if errors.As(err, &ee) && ee.Class == ClassInput {
		return pipeline.BadRequest("rule_input_too_large", err)
	}
	if s.Logger != nil {
		if ce := s.Logger.Check(zap.WarnLevel, "rule failed"); ce != nil {
			class := Class("")
			if ee != nil {
				class = ee.Class
			}
			ce.Write(zap.String("class", string(class)), zap.Error(err))
		}
	}
	return pipeline.Refuse(cmp.Or(s.ErrorStatus, http.StatusServiceUnavailable), "rule_failed", err)
}
