package oidc

import "errors"

// Why a token was refused. Each refusal's pipeline.Failure.Err wraps one of
// these, so logs and tests can tell the reasons apart while the client only
// sees RFC 6750's error code.
var (
	ErrTokenSize       = errors.New("oidc: token exceeds the size limit")
	ErrMalformed       = errors.New("oidc: malformed token")
	ErrDuplicateKey    = errors.New("oidc: duplicate JSON member in token")
	ErrAlgorithm       = errors.New("oidc: signing algorithm not allowed")
	ErrHeader          = errors.New("oidc: forbidden JWS header")
	ErrKeyID           = errors.New("oidc: unacceptable kid")
	ErrTimeClaim       = errors.New("oidc: missing or non-numeric time claim")
	ErrExpired         = errors.New("oidc: token expired")
	ErrNotYetValid     = errors.New("oidc: token not yet valid")
	ErrIssuedInFuture  = errors.New("oidc: token issued in the future")
	ErrTooOld          = errors.New("oidc: token older than max_age")
	ErrUnknownIssuer   = errors.New("oidc: unknown issuer")
	ErrSignature       = errors.New("oidc: signature not verified")
	ErrAudience        = errors.New("oidc: audience not accepted")
	ErrClient          = errors.New("oidc: client not accepted")
	ErrType            = errors.New("oidc: token type not accepted")
	ErrScope           = errors.New("oidc: required scope missing")
	ErrSource          = errors.New("oidc: token source not allowed for issuer")
	ErrBinding         = errors.New("oidc: token bound to another client certificate")
	ErrConflict        = errors.New("oidc: token names another identity than the certificate")
	ErrInactive        = errors.New("oidc: token inactive at introspection")
	ErrNoIntrospection = errors.New("oidc: opaque token but no introspection configured")
	ErrRepeatedHeader  = errors.New("oidc: more than one Authorization header")
	ErrMultipleSources = errors.New("oidc: token presented in more than one place")
	ErrRefreshLimited  = errors.New("oidc: JWKS refetch rate limit reached")
)
