package cws

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/healthgate/healthgate/policy/body"
	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// The stable reason codes of CWS refusals. Unknown user and bad signature
// share one code so clients cannot probe for key users; the log tells them
// apart (ErrUnknownUser, ErrBadSignature).
const (
	ReasonMalformed        = "cws_malformed"         // 401: header not as specified, or several Authorization headers
	ReasonAlgorithmRefused = "cws_algorithm_refused" // 401: CWS-SHA1 not enabled, or an unknown CWS-* scheme
	ReasonSignatureInvalid = "cws_signature_invalid" // 401: unknown user or signature does not verify
	ReasonBodyNotAllowed   = "cws_body_not_allowed"  // 401: a body on GET, HEAD, DELETE, OPTIONS or TRACE
	ReasonDateInvalid      = "cws_date_invalid"      // 401: replay protection on: Date missing, unparsable or outside the window
	ReasonReplay           = "cws_replay"            // 401: replay protection on: signature already used within the window
	ReasonIdentityConflict = "cws_identity_conflict" // 401: another credential proved a different identity of the same kind
	ReasonBodyTooLarge     = "cws_body_too_large"    // 413: body over the limit
	ReasonBodyUnreadable   = "cws_body_unreadable"   // 400: the client's body could not be read
	ReasonSpoolFailed      = "cws_spool_failed"      // 503: the temporary file could not be written
	ReasonReplayCacheFull  = "cws_replay_cache_full" // 503: replay protection on: cache full of live signatures
)

// The verification errors, for errors.Is on Failure.Err.
var (
	ErrUnknownUser      = errors.New("cws: unknown key user")
	ErrBadSignature     = errors.New("cws: signature does not verify")
	ErrSHA1Disabled     = errors.New("cws: CWS-SHA1 is not enabled for this user")
	ErrSeveralHeaders   = errors.New("cws: more than one Authorization header")
	ErrBodyNotAllowed   = errors.New("cws: a body on a method whose signature covers the empty string")
	ErrUnsignedBodyRead = errors.New("cws: reading the body of a method without content")
)

// facetSource is the Facet.Source of every CWS facet.
const facetSource = "cws"

// Config configures a Verifier.
type Config struct {
	// Keys is the key registry. Required.
	Keys *Registry
	// AllowSHA1 accepts CWS-SHA1 from every user. SHA-1 collisions are
	// practical; this MUST NOT be set unless CWS V1 clients remain.
	AllowSHA1 bool
	// SHA1Users accepts CWS-SHA1 from these users only, for a migration.
	// Each must be in Keys.
	SHA1Users []string
	// Body bounds the spooled body (Max, Memory, Dir); its Hashes are set
	// by the verifier. Default: body.DefaultMax and body.DefaultMemory.
	Body body.Options
	// Replay turns on replay protection. Default: nil (off), as CorEMR
	// clients need not send Date.
	Replay *ReplayGuard
	// Facet is the kind of facet the key user becomes. CWS key users are
	// not ordinary users, so a site may call them applications or
	// devices. Default: user.
	Facet identity.Kind
}

// Verifier verifies CWS request signatures. It implements
// pipeline.Verifier.
type Verifier struct {
	cfg  Config
	sha1 map[string]bool
	// decoy is a registered key that an unknown user's signature is
	// checked against, so that it costs what a known user's does.
	decoy *Key
}

// New checks cfg and returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	if cfg.Keys == nil || cfg.Keys.Len() == 0 {
		return nil, errors.New("cws: no keys")
	}
	if cfg.Facet == "" {
		cfg.Facet = identity.User
	}
	if _, err := identity.ParseKind(string(cfg.Facet)); err != nil {
		return nil, fmt.Errorf("cws: facet: %w", err)
	}
	v := &Verifier{cfg: cfg, sha1: make(map[string]bool, len(cfg.SHA1Users))}
	for _, u := range cfg.SHA1Users {
		if _, ok := cfg.Keys.Lookup(u); !ok {
			return nil, fmt.Errorf("cws: SHA-1 user %q has no key", u)
		}
		v.sha1[u] = true
	}
	for _, k := range cfg.Keys.keys {
		v.decoy = k
		break
	}
	return v, nil
}

// Verify implements pipeline.Verifier. It returns pipeline.ErrNoCredentials
// when no Authorization header carries a CWS scheme.
//
// Nothing before the signature check depends on whether the key user
// exists: the refusal's reason, whether the body is read (and a 100 Continue
// sent) and the work done are the same for an unknown user, whose signature
// is checked against a decoy key, as for a known user with a bad signature.
// Otherwise a prober could list the key users.
func (v *Verifier) Verify(_ context.Context, req *pipeline.Request) error {
	r := req.HTTP
	auth, err := credentials(r.Header)
	if err != nil {
		return err
	}
	if auth.Algorithm == SHA1 && !v.cfg.AllowSHA1 && !v.sha1[auth.User] {
		return pipeline.Unauthorized(ReasonAlgorithmRefused, fmt.Errorf("%w: user %q", ErrSHA1Disabled, auth.User))
	}
	if g := v.cfg.Replay; g != nil {
		if err := g.CheckDate(r.Header, req.Now); err != nil {
			return pipeline.Unauthorized(ReasonDateInvalid, err)
		}
	}

	digest, sp, f := v.digest(r, auth.Algorithm.Hash())
	if f != nil {
		return f
	}
	if sp != nil {
		req.Defer(sp.Cleanup) // on every outcome: the handler finishes each request
	}
	key, known := v.cfg.Keys.Lookup(auth.User)
	if !known {
		key = v.decoy
	}
	err = rsa.VerifyPKCS1v15(key.Public, auth.Algorithm.Hash(), digest, auth.Signature)
	switch {
	case !known:
		return pipeline.Unauthorized(ReasonSignatureInvalid, fmt.Errorf("%w %q", ErrUnknownUser, auth.User))
	case err != nil:
		return pipeline.Unauthorized(ReasonSignatureInvalid,
			fmt.Errorf("%w: user %q, %s, key sha256:%s: %w", ErrBadSignature, auth.User, auth.Algorithm, key.FingerprintHex()[:16], err))
	}
	if g := v.cfg.Replay; g != nil {
		if err := g.Remember(auth.Signature, req.Now); err != nil {
			if errors.Is(err, ErrReplayCacheFull) {
				return pipeline.Refuse(http.StatusServiceUnavailable, ReasonReplayCacheFull, err)
			}
			return pipeline.Unauthorized(ReasonReplay, fmt.Errorf("user %q: %w", auth.User, err))
		}
	}
	facet := &identity.Facet{Kind: v.cfg.Facet, ID: auth.User, Proof: identity.ProofCWS, Source: facetSource}
	if err := req.Principal.Add(facet); err != nil {
		return pipeline.Unauthorized(ReasonIdentityConflict, err)
	}
	if sp != nil {
		sp.Replace(r)
	}
	return nil
}

// credentials finds the CWS Authorization header. Several Authorization
// headers are refused if any is CWS: which one the upstream reads is
// anyone's guess.
func credentials(h http.Header) (Authorization, error) {
	values := h.Values("Authorization")
	var (
		found Authorization
		err   error = pipeline.ErrNoCredentials
		n     int
	)
	for _, value := range values {
		a, perr := ParseAuthorization(value)
		if errors.Is(perr, ErrNotCWS) {
			continue
		}
		n++
		found, err = a, perr
	}
	switch {
	case n == 0:
		return Authorization{}, pipeline.ErrNoCredentials
	case len(values) > 1:
		return Authorization{}, pipeline.Unauthorized(ReasonMalformed, fmt.Errorf("%w (%d)", ErrSeveralHeaders, len(values)))
	case errors.Is(err, ErrUnsupportedAlgorithm):
		return Authorization{}, pipeline.Unauthorized(ReasonAlgorithmRefused, err)
	case err != nil:
		return Authorization{}, pipeline.Unauthorized(ReasonMalformed, err)
	}
	return found, nil
}

// digest hashes the signed content: the body for methods with content, the
// empty string for the others, which must then carry no body. The Spooled
// body is nil for methods without content.
func (v *Verifier) digest(r *http.Request, h crypto.Hash) ([]byte, *body.Spooled, *pipeline.Failure) {
	if !SignsBody(r.Method) {
		if f := requireNoBody(r); f != nil {
			return nil, nil, f
		}
		d := h.New()
		return d.Sum(nil), nil, nil
	}
	opt := v.cfg.Body
	opt.Hashes = []crypto.Hash{h}
	sp, err := body.SpoolRequest(r, opt)
	switch {
	case errors.Is(err, body.ErrTooLarge):
		return nil, nil, pipeline.Refuse(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, err)
	case errors.Is(err, body.ErrStorage):
		return nil, nil, pipeline.Refuse(http.StatusServiceUnavailable, ReasonSpoolFailed, err)
	case err != nil:
		return nil, nil, pipeline.BadRequest(ReasonBodyUnreadable, err)
	}
	return sp.Sum(h), sp, nil
}

// requireNoBody refuses a body on a method whose signature covers the empty
// string: it would reach the upstream unsigned. A body of unknown length is
// probed for one byte.
func requireNoBody(r *http.Request) *pipeline.Failure {
	switch {
	case r.ContentLength > 0:
		return pipeline.Unauthorized(ReasonBodyNotAllowed, fmt.Errorf("%w: %s with %d bytes", ErrBodyNotAllowed, r.Method, r.ContentLength))
	case r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody:
		return nil
	}
	n, err := io.ReadFull(r.Body, make([]byte, 1))
	switch {
	case n > 0:
		return pipeline.Unauthorized(ReasonBodyNotAllowed, fmt.Errorf("%w: %s with a chunked body", ErrBodyNotAllowed, r.Method))
	case err != nil && !errors.Is(err, io.EOF):
		return pipeline.BadRequest(ReasonBodyUnreadable, fmt.Errorf("%w: %w", ErrUnsignedBodyRead, err))
	}
	r.Body, r.ContentLength, r.TransferEncoding = http.NoBody, 0, nil
	return nil
}

// SignsBody reports whether a request's body is the signed content (POST,
// PUT, PATCH and unlisted methods) or the empty string is (GET, HEAD,
// DELETE, OPTIONS, TRACE: methods without content).
func SignsBody(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// Challenge implements pipeline.Challenger.
func (v *Verifier) Challenge(realm string) string {
	return SHA256.Scheme() + ` realm="` + realm + `"`
}

var (
	_ pipeline.Verifier   = (*Verifier)(nil)
	_ pipeline.Challenger = (*Verifier)(nil)
)
