package oidc

import (
	"fmt"
	"net/http"
	"strings"
)

// sourceKind says where a token came from.
type sourceKind uint8

const (
	fromHeader sourceKind = iota + 1
	fromCookie
	fromQuery
)

type source struct {
	kind sourceKind
	name string // the cookie or query parameter
}

// sources are the places a Verifier looks for a token: the Authorization
// header always, cookies and query parameters only when an issuer names
// them.
type sources struct {
	cookies, queries []string
}

// extract finds the request's bearer token; ok is false when there is
// none. It returns an error wrapping ErrRepeatedHeader or ErrMultipleSources when
// the request is ambiguous (RFC 6750 §2: one method per request).
func (s *sources) extract(r *http.Request) (tok string, src source, ok bool, err error) {
	found := 0
	take := func(t string, from source) {
		found++
		tok, src = t, from
	}
	switch h := r.Header.Values("Authorization"); {
	case len(h) > 1:
		return "", source{}, false, fmt.Errorf("%w: %d", ErrRepeatedHeader, len(h))
	case len(h) == 1:
		scheme, value, cut := strings.Cut(h[0], " ")
		if cut && strings.EqualFold(scheme, "Bearer") {
			take(value, source{kind: fromHeader})
		}
	}
	for _, name := range s.cookies {
		cs := r.CookiesNamed(name)
		if len(cs) > 1 {
			return "", source{}, false, fmt.Errorf("%w: cookie %s repeated", ErrMultipleSources, name)
		}
		if len(cs) == 1 {
			take(cs[0].Value, source{kind: fromCookie, name: name})
		}
	}
	if len(s.queries) > 0 {
		q := r.URL.Query()
		for _, name := range s.queries {
			vs, present := q[name]
			if len(vs) > 1 {
				return "", source{}, false, fmt.Errorf("%w: query parameter %s repeated", ErrMultipleSources, name)
			}
			if present {
				take(vs[0], source{kind: fromQuery, name: name})
			}
		}
	}
	if found > 1 {
		return "", source{}, false, fmt.Errorf("%w: %d places", ErrMultipleSources, found)
	}
	return tok, src, found == 1, nil
}
