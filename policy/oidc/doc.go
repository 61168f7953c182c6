// Package oidc verifies bearer tokens for the healthgate pipeline: JWT access
// and ID tokens from one or more OpenID Providers (go-oidc for discovery and
// signatures, HS256 shared secrets for SanteDB), opaque tokens through RFC
// 7662 introspection, and the binding of a token to the client certificate
// (RFC 8705).
//
// Tokens pass a strict pre-parse before any library sees them: go-jose, under
// go-oidc, accepts the JWS JSON serialization and whitespace inside a token,
// and go-oidc checks neither typ, iat nor the type of time claims. The
// verifier is picked by the token's unverified iss, so an unknown issuer
// costs no network fetch; JWKS refetches are rate-limited per issuer.
//
// The package does not import Caddy; caddymodule/oidc.go adapts it.
package oidc
