// Package fhir classifies FHIR REST requests: from the method, the path below
// the FHIR base and the query it derives the interaction (read, vread,
// update, patch, delete, history, create, search, capabilities, batch or
// transaction, $operation), the resource type and id, the compartment a
// search runs in, the search parameters and the _include / _revinclude
// targets. Policies (SMART scopes), WASM rules and audit records all read
// the same Interaction.
//
// Parsing fails closed: anything the FHIR REST API (http.html) does not
// define, and any path a server could read differently from the gateway
// (dot segments, empty segments, percent escapes), is an error.
//
// The package does not import Caddy.
package fhir
