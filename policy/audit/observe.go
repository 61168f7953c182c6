package audit

import (
	"errors"
	"time"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// Observer receives the gateway's measurements. Caddy-free packages accept an
// Observer instead of importing a metrics library; caddymodule implements it
// on Caddy's metrics registry. Implementations must be safe for concurrent use
// and cheap: they are called on the request path. Label values must come from
// configuration or fixed code sets, never from request data.
type Observer interface {
	// Decision counts one pipeline decision by outcome (allow, deny,
	// error, limited, anonymous) and stable reason code ("" for a plain
	// allow).
	Decision(outcome, reason string)
	// Verification records how long one verifier took and its result:
	// verified, absent (no credentials of its kind) or failed.
	Verification(verifier, result string, elapsed time.Duration)
	// Fetch counts one fetch of a remote dependency of the given kind
	// (jwks, discovery, introspection, ocsp, crl); err != nil counts a
	// failure as well.
	Fetch(kind string, err error)
	// Revocation counts one revocation check by method (ocsp, crl) and
	// result (good, revoked, unknown, error).
	Revocation(method, result string)
	// WASMEvaluation counts one rule evaluation by rule name and result
	// (allow, deny, abstain, error) and records its duration.
	WASMEvaluation(rule, result string, elapsed time.Duration)
	// WASMPoolSaturated counts a request that found no idle instance of
	// a rule's bounded pool.
	WASMPoolSaturated(rule string)
	// AuditQueue reports the shipper's queue depth.
	AuditQueue(depth int)
	// AuditSpool reports the bytes held in the disk spool.
	AuditSpool(bytes int64)
	// AuditShipped counts AuditEvents the audit server accepted.
	AuditShipped(n int)
	// AuditDropped counts AuditEvents that will never be delivered, by
	// reason: spool_full, rate_limited, rejected (the audit server
	// refused the entry), corrupt (an unreadable spool file).
	AuditDropped(reason string, n int)
}

// Nop is an Observer that discards everything: the default where none is
// configured, so callers never check for nil.
type Nop struct{}

func (Nop) Decision(string, string)                      {}
func (Nop) Verification(string, string, time.Duration)   {}
func (Nop) Fetch(string, error)                          {}
func (Nop) Revocation(string, string)                    {}
func (Nop) WASMEvaluation(string, string, time.Duration) {}
func (Nop) WASMPoolSaturated(string)                     {}
func (Nop) AuditQueue(int)                               {}
func (Nop) AuditSpool(int64)                             {}
func (Nop) AuditShipped(int)                             {}
func (Nop) AuditDropped(string, int)                     {}

// The verification results an Observer is told.
const (
	VerificationVerified = "verified"
	VerificationAbsent   = "absent"
	VerificationFailed   = "failed"
)

// VerificationResult classifies a verifier's error for
// Observer.Verification: nil is verified, pipeline.ErrNoCredentials absent,
// anything else failed.
func VerificationResult(err error) string {
	switch {
	case err == nil:
		return VerificationVerified
	case errors.Is(err, pipeline.ErrNoCredentials):
		return VerificationAbsent
	}
	return VerificationFailed
}

var _ Observer = Nop{}
