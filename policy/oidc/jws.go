package oidc

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxTokenBytes bounds a token before any decoding: 8 KiB holds a
// SanteDB token with a few dozen policy OIDs and stays under common header
// limits.
const DefaultMaxTokenBytes = 8 << 10

// maxKeyIDLen bounds a kid; real ones are UUIDs, thumbprints or short names.
const maxKeyIDLen = 128

// forbiddenHeaders name keys by reference or embedding. go-jose never uses
// them for verification and we never fetch them, but a token carrying them
// is asking a verifier to trust a key the issuer did not publish.
var forbiddenHeaders = []string{"jku", "x5u", "jwk", "x5c", "zip"}

// jwt is a compact JWS that passed the strict pre-parse. Nothing in it is
// verified yet.
type jwt struct {
	raw    string
	alg    string
	kid    string
	typ    string
	claims map[string]json.RawMessage
	iss    string
}

// parseJWT checks that raw is a compact JWS of three unpadded base64url
// parts within max bytes, with JSON header and payload free of duplicate
// members, an alg other than none, no crit, no key references and a
// well-formed kid, and a string iss.
func parseJWT(raw string, max int) (*jwt, error) {
	if len(raw) > max {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTokenSize, len(raw), max)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: %d parts, want 3", ErrMalformed, len(parts))
	}
	var dec [2][]byte
	for i, p := range parts {
		if p == "" && i < 2 {
			return nil, fmt.Errorf("%w: part %d empty", ErrMalformed, i+1)
		}
		if !isBase64URL(p) {
			return nil, fmt.Errorf("%w: part %d is not unpadded base64url", ErrMalformed, i+1)
		}
		if i < 2 {
			b, err := base64.RawURLEncoding.Strict().DecodeString(p)
			if err != nil {
				return nil, fmt.Errorf("%w: part %d: %v", ErrMalformed, i+1, err)
			}
			dec[i] = b
		}
	}
	header, err := decodeObject(dec[0])
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	t := &jwt{raw: raw}
	if t.alg, err = stringMember(header, "alg", true); err != nil {
		return nil, err
	}
	if strings.EqualFold(t.alg, "none") {
		return nil, fmt.Errorf("%w: none", ErrAlgorithm)
	}
	if _, ok := header["crit"]; ok {
		return nil, fmt.Errorf("%w: crit (no extension is understood)", ErrHeader)
	}
	for _, h := range forbiddenHeaders {
		if _, ok := header[h]; ok {
			return nil, fmt.Errorf("%w: %s", ErrHeader, h)
		}
	}
	if t.kid, err = stringMember(header, "kid", false); err != nil {
		return nil, err
	}
	if _, present := header["kid"]; present && !validKeyID(t.kid) {
		return nil, fmt.Errorf("%w: %d bytes or characters outside [A-Za-z0-9._~:@+=-]", ErrKeyID, len(t.kid))
	}
	if t.typ, err = stringMember(header, "typ", false); err != nil {
		return nil, err
	}
	if parts[2] == "" {
		return nil, fmt.Errorf("%w: signature empty", ErrMalformed)
	}
	if t.claims, err = decodeObject(dec[1]); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if t.iss, err = stringMember(t.claims, "iss", true); err != nil {
		return nil, err
	}
	return t, nil
}

// stringMember returns a string member of a JSON object; a member of
// another type is malformed, an absent one is malformed only if required.
func stringMember(m map[string]json.RawMessage, name string, required bool) (string, error) {
	raw, ok := m[name]
	if !ok {
		if required {
			return "", fmt.Errorf("%w: %s missing", ErrMalformed, name)
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s is not a string", ErrMalformed, name)
	}
	if required && s == "" {
		return "", fmt.Errorf("%w: %s empty", ErrMalformed, name)
	}
	return s, nil
}

// numericDate reads a NumericDate claim (RFC 7519 §2): a JSON number, never
// a string. ok is false when the claim is absent.
func numericDate(m map[string]json.RawMessage, name string) (t time.Time, ok bool, err error) {
	raw, present := m[name]
	if !present {
		return time.Time{}, false, nil
	}
	var n json.Number
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return time.Time{}, true, fmt.Errorf("%w: %s is not a number", ErrTimeClaim, name)
	}
	t, err = secondsToTime(string(n))
	if err != nil {
		return time.Time{}, true, fmt.Errorf("%w: %s: %v", ErrTimeClaim, name, err)
	}
	return t, true, nil
}

// stringDate reads a NumericDate sent as a decimal string, as SanteDB 2.x
// sends iat ("1598556847.8982").
func stringDate(m map[string]json.RawMessage, name string) (time.Time, bool, error) {
	var s string
	if json.Unmarshal(m[name], &s) != nil {
		return numericDate(m, name)
	}
	t, err := secondsToTime(s)
	if err != nil {
		return time.Time{}, true, fmt.Errorf("%w: %s: %v", ErrTimeClaim, name, err)
	}
	return t, true, nil
}

// maxSeconds is 9999-12-31; later dates are nonsense and overflow time.
const maxSeconds = 253402300799

func secondsToTime(s string) (time.Time, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > maxSeconds {
		return time.Time{}, fmt.Errorf("%q out of range", s)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

func isBase64URL(s string) bool { return onlyChars(s, "-_") }

// validKeyID admits the characters of UUIDs, base64url thumbprints, URNs and
// plain names, and nothing that reads as a path, a query or a quote.
func validKeyID(kid string) bool {
	return kid != "" && len(kid) <= maxKeyIDLen && onlyChars(kid, "._~:@+=-") && !strings.Contains(kid, "..")
}

// isBearerToken reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isBearerToken(s string) bool {
	body := strings.TrimRight(s, "=")
	return body != "" && onlyChars(body, "-._~+/")
}

// onlyChars reports whether s holds only ASCII letters, digits and the
// bytes in extra.
func onlyChars(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}
