// Package body spools an HTTP request body so that a verifier can check it
// (hash it, verify a signature over it) before the upstream sees it, and then
// hand on exactly the bytes it checked.
//
// Memory stays bounded whatever the body's size: up to Options.Memory bytes
// are held in memory; a longer body spills to a temporary file, which is
// unlinked as soon as it is created where the system allows it (so it
// disappears even if the process dies) and in any case by Spooled.Cleanup.
// The hashes the caller asks for are computed while reading, in one pass.
// A body longer than Options.Max fails with ErrTooLarge (answer 413).
//
// Typical use in a verifier:
//
//	sp, err := body.SpoolRequest(r, body.Options{Max: max, Hashes: []crypto.Hash{crypto.SHA256}})
//	if err != nil { … errors.Is(err, body.ErrTooLarge) → 413 … }
//	req.Defer(sp.Cleanup)
//	digest := sp.Sum(crypto.SHA256)
//	… verify …
//	sp.Replace(r) // the upstream reads the spooled bytes
package body
