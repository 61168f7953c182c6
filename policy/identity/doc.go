// Package identity holds the Principal: who a request comes from, as proven by
// the verifiers of the healthgate pipeline.
//
// A Principal has up to three facets, in SanteDB's terms: the device (a
// machine or tablet, usually proven by a client certificate), the application
// (the software, proven by a certificate or a token's client id) and the user
// (a person or a service account, proven by a token or a request signature).
// Each facet records how it was proven, so policy can tell a device proven by
// mutual TLS from one merely named in a token.
//
// The package does not import Caddy: policy, WASM rules and audit records all
// read the same Principal.
package identity
