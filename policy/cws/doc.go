// Package cws verifies CorEMR web-service (CWS) request signatures:
//
//	Authorization: CWS-SHA256 Access=USER, Signature=BASE64
//
// where the signature is RSA PKCS#1 v1.5 over the SHA-256 (CWS-SHA1: the
// SHA-1) of the signed content, made with the private key of USER, whose
// public key is in a Registry.
//
// The signed content depends on the method. The specification names PUT and
// POST (the body) and GET (the empty string); for the others this package
// decides:
//
//   - POST, PUT, PATCH and any method not listed below: the body, as sent
//     (an empty body signs the empty string). PATCH carries content like
//     POST, so its body must be covered.
//   - GET, HEAD, DELETE, OPTIONS, TRACE: the empty string. These methods
//     carry no content, so a body on them would pass unsigned to the
//     upstream: such a request is refused (401, cws_body_not_allowed).
//
// The body is spooled while it is hashed (package body): the upstream
// receives exactly the verified bytes, memory stays bounded, and a body over
// the limit is refused with 413.
//
// CWS signs the body only: not the method, path, host or time. A GET
// signature is a constant per user. Optional replay protection (a required
// Date header within a window and a cache of signatures seen within it)
// narrows, but cannot close, that gap; see docs/cws.md.
//
// The package does not import Caddy.
package cws
