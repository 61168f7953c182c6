package clientcert

import (
	"crypto/sha1" //nolint:gosec // SanteDB names certificates by SHA-1 thumbprint; it is an identifier here, not a proof.
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Thumbprints of a certificate's DER, lowercase hex.
func sha256Hex(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

func sha1Hex(der []byte) string {
	s := sha1.Sum(der) //nolint:gosec // see the import
	return hex.EncodeToString(s[:])
}

// NormalizeThumbprint reads a hex thumbprint as Windows, openssl or SanteDB
// print it (any case, optional colons or spaces) and returns lowercase hex,
// checking its length: 40 digits for sha1, 64 for sha256.
func NormalizeThumbprint(alg, s string) (string, error) {
	h := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(s))
	want := 64
	if alg == "sha1" {
		want = 40
	}
	if _, err := hex.DecodeString(h); err != nil || len(h) != want {
		return "", fmt.Errorf("clientcert: %s thumbprint %q is not %d hex digits", alg, s, want)
	}
	return h, nil
}
