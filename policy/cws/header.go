package cws

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// The kinds of header error, for errors.Is. Their messages never hold the
// signature.
var (
	// ErrNotCWS: the Authorization scheme is not a CWS one; another
	// verifier may own it.
	ErrNotCWS = errors.New("cws: not a CWS authorization")
	// ErrMalformed: a CWS scheme with parameters that do not follow the
	// specification.
	ErrMalformed = errors.New("cws: malformed authorization")
	// ErrUnsupportedAlgorithm: a CWS-* scheme this package does not know.
	ErrUnsupportedAlgorithm = errors.New("cws: unsupported algorithm")
)

// Authorization is a parsed CWS Authorization header.
type Authorization struct {
	Algorithm Algorithm
	// User is the key user (Access=), compared exactly.
	User string
	// Signature is the decoded signature.
	Signature []byte
}

// The two parameters, as the specification spells them. Parameter names
// match case-insensitively (RFC 9110 §11.2).
const (
	paramAccess    = "Access"
	paramSignature = "Signature"
)

// maxUser bounds a user name; CWS names are short.
const maxUser = 256

// String formats the header value as the specification writes it.
func (a Authorization) String() string {
	return a.Algorithm.Scheme() + " " + paramAccess + "=" + a.User + ", " +
		paramSignature + "=" + base64.StdEncoding.EncodeToString(a.Signature)
}

// ParseAuthorization reads an Authorization header value:
//
//	ALGORITHM Access=USER, Signature=SIGNATURE
//
// following RFC 9110's auth-scheme rules where the CWS specification is
// silent: the scheme is case-insensitive, so are the parameter names; the
// parameters may come in either order, with optional whitespace around the
// comma and the "=". As the specification says, none of the pieces are
// escaped, so values are taken as written (a quoted value is an error). An
// unknown, repeated, empty or missing parameter is an error, as is a
// signature that is not standard, padded base64.
//
// A scheme that does not begin with "CWS-" yields ErrNotCWS.
func ParseAuthorization(v string) (Authorization, error) {
	v = strings.Trim(v, " \t")
	scheme, params, _ := strings.Cut(v, " ")
	if !hasPrefixFold(scheme, schemePrefix) {
		return Authorization{}, ErrNotCWS
	}
	var a Authorization
	switch {
	case strings.EqualFold(scheme, SHA256.Scheme()):
		a.Algorithm = SHA256
	case strings.EqualFold(scheme, SHA1.Scheme()):
		a.Algorithm = SHA1
	default:
		return Authorization{}, fmt.Errorf("%w: scheme %q", ErrUnsupportedAlgorithm, clip(scheme))
	}

	params = strings.TrimLeft(params, " ")
	if params == "" {
		return Authorization{}, fmt.Errorf("%w: no parameters", ErrMalformed)
	}
	var haveUser, haveSig bool
	for part := range strings.SplitSeq(params, ",") {
		name, value, ok := strings.Cut(strings.Trim(part, " \t"), "=")
		name, value = strings.TrimRight(name, " \t"), strings.TrimLeft(value, " \t")
		switch {
		case name == "" && !ok:
			return Authorization{}, fmt.Errorf("%w: empty list element", ErrMalformed)
		case !ok:
			return Authorization{}, fmt.Errorf("%w: a part without \"=\"", ErrMalformed)
		case !isToken(name):
			return Authorization{}, fmt.Errorf("%w: a parameter name that is not a token", ErrMalformed)
		case strings.EqualFold(name, paramAccess):
			if haveUser {
				return Authorization{}, fmt.Errorf("%w: Access given twice", ErrMalformed)
			}
			if err := CheckUser(value); err != nil {
				return Authorization{}, fmt.Errorf("%w: Access: %w", ErrMalformed, err)
			}
			a.User, haveUser = value, true
		case strings.EqualFold(name, paramSignature):
			if haveSig {
				return Authorization{}, fmt.Errorf("%w: Signature given twice", ErrMalformed)
			}
			sig, err := decodeSignature(value)
			if err != nil {
				return Authorization{}, fmt.Errorf("%w: Signature: %w", ErrMalformed, err)
			}
			a.Signature, haveSig = sig, true
		default:
			return Authorization{}, fmt.Errorf("%w: unknown parameter %q", ErrMalformed, clip(name))
		}
	}
	switch {
	case !haveUser:
		return Authorization{}, fmt.Errorf("%w: no Access parameter", ErrMalformed)
	case !haveSig:
		return Authorization{}, fmt.Errorf("%w: no Signature parameter", ErrMalformed)
	}
	return a, nil
}

// CheckUser reports whether s can be a CWS key user: 1 to 256 visible ASCII
// characters other than the comma, the quote and the backslash, which the
// unescaped header could not carry unambiguously.
func CheckUser(s string) error {
	if s == "" {
		return errors.New("empty user name")
	}
	if len(s) > maxUser {
		return fmt.Errorf("user name longer than %d bytes", maxUser)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ',' || c == '"' || c == '\\' {
			return fmt.Errorf("user name with character %q at byte %d (want visible ASCII, no comma, quote or backslash)", c, i)
		}
	}
	return nil
}

// decodeSignature accepts standard, padded base64 (RFC 4648 §4) only: no
// URL alphabet, no missing padding, no line breaks, no stray bits.
func decodeSignature(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isBase64Char(c) {
			return nil, fmt.Errorf("character at byte %d is not standard base64", i)
		}
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not standard padded base64: %w", err)
	}
	return b, nil
}

func isBase64Char(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '='
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// clip shortens client-supplied text quoted in an error.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
