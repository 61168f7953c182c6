// Package audit turns every pipeline decision into one Record, renders it as a
// FHIR R4 AuditEvent in the IHE Basic Audit Log Patterns (BALP) shape, and
// ships AuditEvents to a FHIR server's audit endpoint off the request path.
//
// The package does not import Caddy. The adapter in caddymodule writes each
// Record through a named Caddy logger, so users route, filter and roll the
// audit trail with Caddy's own log configuration, and reports measurements
// through Caddy's metrics registry behind the Observer interface defined here.
//
// A Record never holds a token, secret, signature or body: it is built only
// from the audit-safe facts the verifiers put on the Principal (token
// iss/sub/client_id/jti, certificate fingerprint, facet ids and proofs), and
// credential-bearing query parameters are redacted.
package audit
