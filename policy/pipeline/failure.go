package pipeline

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrNoCredentials is returned by a Verifier when the request carries none of
// the credentials it verifies. It is not a failure: another verifier, or the
// route's missing-credentials mode, decides.
var ErrNoCredentials = errors.New("no credentials of this kind")

// ErrUnavailable marks failures caused by something the gateway depends on
// (an introspection endpoint, an OCSP responder in hard-fail mode) rather
// than by the client. Wrapped in a Failure it still refuses the request.
var ErrUnavailable = errors.New("dependency unavailable")

// Failure is a refusal: the status and stable reason code the client and the
// audit see, and the detail only the log sees.
type Failure struct {
	// Status is the HTTP status: 400, 401, 403, 413 or 503.
	Status int
	// Reason is a stable, documented code such as "cert_untrusted". It may
	// be shown to clients; it never contains request data.
	Reason string
	// Challenge, when set, is sent as WWW-Authenticate.
	Challenge string
	// Header holds further response headers (RFC 6750 error attributes go
	// in Challenge; this is for others).
	Header http.Header
	// Body, when set, is sent instead of an empty body, with ContentType.
	// It must be a fixed, generic document (an RFC 6749 error, say).
	Body        []byte
	ContentType string
	// Err is the internal detail. It is logged, never sent.
	Err error
}

func (f *Failure) Error() string {
	if f.Err != nil {
		return fmt.Sprintf("%d %s: %v", f.Status, f.Reason, f.Err)
	}
	return fmt.Sprintf("%d %s", f.Status, f.Reason)
}

func (f *Failure) Unwrap() error { return f.Err }

// Refuse makes a Failure with the given status, reason and detail.
func Refuse(status int, reason string, err error) *Failure {
	return &Failure{Status: status, Reason: reason, Err: err}
}

// Unauthorized makes a 401 Failure: credentials missing or not valid.
func Unauthorized(reason string, err error) *Failure {
	return Refuse(http.StatusUnauthorized, reason, err)
}

// Forbidden makes a 403 Failure: valid credentials that are not enough.
func Forbidden(reason string, err error) *Failure {
	return Refuse(http.StatusForbidden, reason, err)
}

// BadRequest makes a 400 Failure: malformed input.
func BadRequest(reason string, err error) *Failure {
	return Refuse(http.StatusBadRequest, reason, err)
}

// AsFailure turns any error from a verifier or policy into a Failure, failing
// closed: an error that is not already a Failure refuses the request with
// 401, or 503 when it wraps ErrUnavailable.
func AsFailure(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	if errors.Is(err, ErrUnavailable) {
		return Refuse(http.StatusServiceUnavailable, "dependency_unavailable", err)
	}
	return Unauthorized("credentials_invalid", err)
}
