// Package clientcert turns a client certificate into a verified identity:
// from Caddy's own TLS handshake or from a header a trusted TLS terminator
// set, re-verified against the site's trust pool (or pinned leaf
// certificates), checked for revocation (OCSP, CRL), and mapped to a device,
// application or user facet the way SanteDB's ICertificateIdentityProvider
// maps them.
//
// Work per certificate is done once: per TLS connection (keyed by the leaf
// certificate the connection holds) or per distinct forwarded header value
// (keyed by its SHA-256), until the revocation answer or the certificate
// expires.
//
// The package does not import Caddy; caddymodule/clientcert.go adapts it.
package clientcert
