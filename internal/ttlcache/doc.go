// Package ttlcache is a bounded, concurrency-safe cache whose entries
// expire. It serves the hot paths of the policy modules (client
// certificate identities, OCSP answers and CRLs, verified bearer tokens),
// where a hit must stay cheap and concurrent while no client can grow the
// cache without bound.
//
// The caller passes the current time to every call instead of the cache
// reading a clock: the callers already hold the request's time, their
// tests use fixed clocks, and an entry then expires exactly when the
// caller's notion of time says it does.
package ttlcache
