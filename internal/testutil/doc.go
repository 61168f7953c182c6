// Package testutil holds the helpers that test code across the module
// shares (the end-to-end harness, the OpenSSL test CA): one copy, so the
// rule that CI never passes by skipping is written once.
package testutil
