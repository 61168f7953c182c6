package cws

import (
	"crypto"
	// The two hashes CWS names; linked here so Algorithm.Hash is usable.
	_ "crypto/sha1"
	_ "crypto/sha256"
	"fmt"
	"strings"
)

// Algorithm is a CWS signature algorithm: RSA PKCS#1 v1.5 over a hash.
type Algorithm uint8

// The algorithms of the CWS specification. The zero value is none.
const (
	SHA256 Algorithm = iota + 1 // CWS-SHA256 (CWS V2)
	SHA1                        // CWS-SHA1 (CWS V1 and V2); refused unless enabled
)

// schemePrefix starts every CWS auth-scheme.
const schemePrefix = "CWS-"

// ParseAlgorithm reads "sha256" or "sha1", or the scheme ("CWS-SHA256"),
// in any case.
func ParseAlgorithm(s string) (Algorithm, error) {
	u := strings.ToUpper(s)
	switch strings.TrimPrefix(u, schemePrefix) {
	case "SHA256":
		return SHA256, nil
	case "SHA1":
		return SHA1, nil
	}
	return 0, fmt.Errorf("cws: unknown algorithm %q (want sha256 or sha1)", s)
}

// Scheme is the auth-scheme of the Authorization header: "CWS-SHA256".
func (a Algorithm) Scheme() string {
	switch a {
	case SHA256:
		return "CWS-SHA256"
	case SHA1:
		return "CWS-SHA1"
	}
	return fmt.Sprintf("CWS-invalid(%d)", uint8(a))
}

func (a Algorithm) String() string { return a.Scheme() }

// Hash is the hash the signature covers.
func (a Algorithm) Hash() crypto.Hash {
	switch a {
	case SHA256:
		return crypto.SHA256
	case SHA1:
		return crypto.SHA1
	}
	return 0
}
