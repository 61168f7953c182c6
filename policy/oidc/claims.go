package oidc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// flattenClaims turns token claims into the string lists of
// identity.Principal.Claims: strings as they are, numbers and booleans as
// their JSON text, arrays of those element by element, and objects one level
// deep as "object.member" (SanteDB's santedb.appid, cnf.x5t#S256). Deeper
// values and nulls are left out.
func flattenClaims(claims map[string]json.RawMessage) map[string][]string {
	out := make(map[string][]string, len(claims))
	for name, raw := range claims {
		if vs, ok := scalarList(raw); ok {
			out[name] = vs
			continue
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			continue
		}
		for member, mraw := range obj {
			if vs, ok := scalarList(mraw); ok {
				out[name+"."+member] = vs
			}
		}
	}
	return out
}

// scalarList reads a scalar or an array of scalars as strings.
func scalarList(raw json.RawMessage) ([]string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	if raw[0] == '[' {
		var arr []json.RawMessage
		if json.Unmarshal(raw, &arr) != nil {
			return nil, false
		}
		vs := make([]string, 0, len(arr))
		for _, e := range arr {
			v, ok := scalar(e)
			if !ok {
				return nil, false
			}
			vs = append(vs, v)
		}
		return vs, true
	}
	if v, ok := scalar(raw); ok {
		return []string{v}, true
	}
	return nil, false
}

func scalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		return s, json.Unmarshal(raw, &s) == nil
	case c == 't' || c == 'f' || c == '-' || ('0' <= c && c <= '9'):
		return string(raw), true
	}
	return "", false
}

// first returns the first value of the first of names present in claims.
func first(claims map[string][]string, names []string) string {
	for _, n := range names {
		if vs := claims[n]; len(vs) > 0 && vs[0] != "" {
			return vs[0]
		}
	}
	return ""
}

// all returns the values of the first of names present in claims.
func all(claims map[string][]string, names []string) []string {
	for _, n := range names {
		if vs, ok := claims[n]; ok {
			return vs
		}
	}
	return nil
}

// scopes reads a scope claim: an array, or a space-separated string
// (RFC 8693 §4.2); both flatten to a list, so split every element.
func scopes(claims map[string][]string, names []string) []string {
	var out []string
	for _, v := range all(claims, names) {
		for _, s := range strings.Fields(v) {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// checkAudience requires one of the accepted audiences in aud.
func checkAudience(claims map[string][]string, accepted []string) error {
	if len(accepted) == 1 && accepted[0] == "*" {
		return nil
	}
	for _, a := range claims["aud"] {
		if slices.Contains(accepted, a) {
			return nil
		}
	}
	return fmt.Errorf("%w: aud %q, want one of %q", ErrAudience, claims["aud"], accepted)
}

// checkClient requires azp, else client_id, in the accepted list.
func checkClient(claims map[string][]string, accepted []string) error {
	if len(accepted) == 0 {
		return nil
	}
	id := first(claims, []string{"azp", "client_id"})
	if id == "" || !slices.Contains(accepted, id) {
		return fmt.Errorf("%w: azp/client_id %q, want one of %q", ErrClient, id, accepted)
	}
	return nil
}

// checkScopes requires every scope in required.
func checkScopes(granted, required []string) error {
	for _, r := range required {
		if !slices.Contains(granted, r) {
			return fmt.Errorf("%w: %q", ErrScope, r)
		}
	}
	return nil
}

// checkType compares JWS typ values as RFC 7515 §4.1.9 says: case-insensitive,
// "application/" optional.
func checkType(got, want string) error {
	norm := func(s string) string { return strings.TrimPrefix(strings.ToLower(s), "application/") }
	if want != "" && norm(got) != norm(want) {
		return fmt.Errorf("%w: typ %q, want %q", ErrType, got, want)
	}
	return nil
}

// times are a token's validity claims.
type times struct {
	exp, iat time.Time
	hasIAT   bool
}

// checkTimes applies exp (required unless optionalExp), nbf, iat and
// max_age at now, with the issuer's skew.
func checkTimes(claims map[string]json.RawMessage, c *IssuerConfig, now time.Time, optionalExp bool) (times, error) {
	var t times
	exp, ok, err := numericDate(claims, "exp")
	if err != nil {
		return t, err
	}
	if !ok && !optionalExp {
		return t, fmt.Errorf("%w: exp missing", ErrTimeClaim)
	}
	if ok && !now.Before(exp.Add(c.ClockSkew)) {
		return t, fmt.Errorf("%w: exp %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	t.exp = exp
	nbf, ok, err := numericDate(claims, "nbf")
	if err != nil {
		return t, err
	}
	if ok && now.Add(c.ClockSkew).Before(nbf) {
		return t, fmt.Errorf("%w: nbf %s", ErrNotYetValid, nbf.UTC().Format(time.RFC3339))
	}
	readIAT := numericDate
	if c.AllowStringIAT {
		readIAT = stringDate
	}
	iat, ok, err := readIAT(claims, "iat")
	if err != nil {
		return t, err
	}
	t.iat, t.hasIAT = iat, ok
	if ok && now.Add(c.ClockSkew).Before(iat) {
		return t, fmt.Errorf("%w: iat %s", ErrIssuedInFuture, iat.UTC().Format(time.RFC3339))
	}
	if c.MaxAge > 0 {
		if !ok {
			return t, fmt.Errorf("%w: iat missing, max_age needs it", ErrTimeClaim)
		}
		if now.After(iat.Add(c.MaxAge + c.ClockSkew)) {
			return t, fmt.Errorf("%w: iat %s", ErrTooOld, iat.UTC().Format(time.RFC3339))
		}
	}
	return t, nil
}
