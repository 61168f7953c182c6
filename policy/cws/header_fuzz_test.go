package cws

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseAuthorization checks that any header value parses or fails
// cleanly, that a parsed value formats back to an equal one, and that a
// value without a CWS scheme is never taken for CWS.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"CWS-SHA256 Access=alice, Signature=" + sigB64,
		"cws-sha1 Signature=" + sigB64 + ",Access=bob",
		"CWS-SHA256 Access = a , Signature = AAAA",
		"CWS-SHA256 Access=alice,, Signature=AAAA",
		"Bearer x.y.z",
		"CWS-SHA512 x",
		`CWS-SHA256 Access="a", Signature=AAAA`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAuthorization(s)
		if err != nil {
			if !errors.Is(err, ErrNotCWS) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedAlgorithm) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		if !hasPrefixFold(strings.Trim(s, " \t"), schemePrefix) {
			t.Fatalf("%q parsed although its scheme is not CWS", s)
		}
		if CheckUser(a.User) != nil || len(a.Signature) == 0 || a.Algorithm.Hash() == 0 {
			t.Fatalf("%q parsed to an invalid value %+v", s, a)
		}
		back, err := ParseAuthorization(a.String())
		if err != nil {
			t.Fatalf("%q → %q does not parse: %v", s, a.String(), err)
		}
		if diff := cmp.Diff(a, back); diff != "" {
			t.Fatalf("round trip differs (-first +second):\n%s", diff)
		}
	})
}
