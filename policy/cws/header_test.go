package cws

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sig is a short, valid base64 signature for parser tests ("sig!" decoded).
const sigB64 = "c2lnIQ=="

var sigBytes = []byte("sig!")

func TestParseAuthorizationAccepts(t *testing.T) {
	tests := []struct {
		name, header string
		want         Authorization
	}{
		{"the form the specification writes is accepted",
			"CWS-SHA256 Access=alice, Signature=" + sigB64, Authorization{SHA256, "alice", sigBytes}},
		{"the scheme is case-insensitive",
			"cws-sha256 Access=alice, Signature=" + sigB64, Authorization{SHA256, "alice", sigBytes}},
		{"CWS-SHA1 is parsed (refusing it is the verifier's job)",
			"CWS-SHA1 Access=alice, Signature=" + sigB64, Authorization{SHA1, "alice", sigBytes}},
		{"the parameters may come in either order",
			"CWS-SHA256 Signature=" + sigB64 + ", Access=alice", Authorization{SHA256, "alice", sigBytes}},
		{"no whitespace around the comma is accepted",
			"CWS-SHA256 Access=alice,Signature=" + sigB64, Authorization{SHA256, "alice", sigBytes}},
		{"whitespace before and after the comma is accepted",
			"CWS-SHA256 Access=alice \t ,  Signature=" + sigB64, Authorization{SHA256, "alice", sigBytes}},
		{"whitespace around the equals sign is accepted (RFC 9110 BWS)",
			"CWS-SHA256 Access = alice, Signature =" + sigB64, Authorization{SHA256, "alice", sigBytes}},
		{"parameter names are case-insensitive",
			"CWS-SHA256 access=alice, SIGNATURE=" + sigB64, Authorization{SHA256, "alice", sigBytes}},
		{"several spaces after the scheme are accepted",
			"CWS-SHA256   Access=alice, Signature=" + sigB64, Authorization{SHA256, "alice", sigBytes}},
		{"the user name is taken as written, with its case and punctuation",
			"CWS-SHA256 Access=Svc.Lab-1@site=a, Signature=" + sigB64, Authorization{SHA256, "Svc.Lab-1@site=a", sigBytes}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAuthorization(tt.header)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAuthorizationRefuses(t *testing.T) {
	tests := []struct {
		name, header string
		want         error
		detail       string
	}{
		{"a Bearer token is not CWS", "Bearer abc.def.ghi", ErrNotCWS, ""},
		{"Basic credentials are not CWS", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", ErrNotCWS, ""},
		{"an empty header is not CWS", "", ErrNotCWS, ""},
		{"an unknown CWS algorithm is unsupported", "CWS-SHA512 Access=alice, Signature=" + sigB64, ErrUnsupportedAlgorithm, "CWS-SHA512"},
		{"a scheme glued to its parameters by a tab is unsupported", "CWS-SHA256\tAccess=alice, Signature=" + sigB64, ErrUnsupportedAlgorithm, ""},
		{"a scheme without parameters is malformed", "CWS-SHA256", ErrMalformed, "no parameters"},
		{"a missing Signature is malformed", "CWS-SHA256 Access=alice", ErrMalformed, "no Signature"},
		{"a missing Access is malformed", "CWS-SHA256 Signature=" + sigB64, ErrMalformed, "no Access"},
		{"an unknown parameter is malformed", "CWS-SHA256 Access=alice, Signature=" + sigB64 + ", Nonce=1", ErrMalformed, "unknown parameter \"Nonce\""},
		{"a repeated Access is malformed", "CWS-SHA256 Access=alice, Access=bob, Signature=" + sigB64, ErrMalformed, "Access given twice"},
		{"a repeated Signature is malformed", "CWS-SHA256 Access=alice, Signature=" + sigB64 + ", signature=" + sigB64, ErrMalformed, "Signature given twice"},
		{"an empty list element is malformed", "CWS-SHA256 Access=alice,, Signature=" + sigB64, ErrMalformed, "empty list element"},
		{"a trailing comma is malformed", "CWS-SHA256 Access=alice, Signature=" + sigB64 + ",", ErrMalformed, "empty list element"},
		{"a token68 in place of parameters is malformed", "CWS-SHA256 " + sigB64[:4], ErrMalformed, "without \"=\""},
		{"an empty user is malformed", "CWS-SHA256 Access=, Signature=" + sigB64, ErrMalformed, "empty user"},
		{"a quoted user is malformed (nothing is escaped)", `CWS-SHA256 Access="alice", Signature=` + sigB64, ErrMalformed, "quote"},
		{"a user with a space is malformed", "CWS-SHA256 Access=al ice, Signature=" + sigB64, ErrMalformed, "character ' '"},
		{"a user with non-ASCII is malformed", "CWS-SHA256 Access=alicé, Signature=" + sigB64, ErrMalformed, "visible ASCII"},
		{"an over-long user is malformed", "CWS-SHA256 Access=" + strings.Repeat("a", 257) + ", Signature=" + sigB64, ErrMalformed, "longer than 256"},
		{"an empty signature is malformed", "CWS-SHA256 Access=alice, Signature=", ErrMalformed, "Signature: empty"},
		{"an unpadded signature is malformed", "CWS-SHA256 Access=alice, Signature=c2lnIQ", ErrMalformed, "padded base64"},
		{"a truncated signature is malformed", "CWS-SHA256 Access=alice, Signature=c2lnI", ErrMalformed, "padded base64"},
		{"a URL-alphabet signature is malformed", "CWS-SHA256 Access=alice, Signature=c2lnI-_=", ErrMalformed, "not standard base64"},
		{"a signature with non-zero padding bits is malformed", "CWS-SHA256 Access=alice, Signature=c2lnIR==", ErrMalformed, "padded base64"},
		{"a signature with a line break is malformed", "CWS-SHA256 Access=alice, Signature=c2ln\nIQ==", ErrMalformed, "not standard base64"},
		{"a signature with inner whitespace is malformed", "CWS-SHA256 Access=alice, Signature=c2ln IQ==", ErrMalformed, "not standard base64"},
		{"a quoted signature is malformed", `CWS-SHA256 Access=alice, Signature="c2lnIQ=="`, ErrMalformed, "not standard base64"},
		{"a parameter name that is not a token is malformed", "CWS-SHA256 Access=alice, Sig(nature)=" + sigB64, ErrMalformed, "not a token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAuthorization(tt.header)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("err = %q, want it to mention %q", err, tt.detail)
			}
			if strings.Contains(err.Error(), sigB64) {
				t.Errorf("err = %q holds the signature", err)
			}
			if diff := cmp.Diff(Authorization{}, got); diff != "" {
				t.Errorf("a refused header returned a value:\n%s", diff)
			}
		})
	}
}

func TestAuthorizationStringRoundTrips(t *testing.T) {
	a := Authorization{SHA1, "svc-lab", []byte{0, 1, 2, 0xfe, 0xff}}
	if got, want := a.String(), "CWS-SHA1 Access=svc-lab, Signature=AAEC/v8="; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	back, err := ParseAuthorization(a.String())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, back); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseAlgorithm(t *testing.T) {
	for in, want := range map[string]Algorithm{"sha256": SHA256, "SHA1": SHA1, "cws-sha256": SHA256, "CWS-SHA1": SHA1} {
		if got, err := ParseAlgorithm(in); err != nil || got != want {
			t.Errorf("ParseAlgorithm(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseAlgorithm("md5"); err == nil {
		t.Error("ParseAlgorithm(md5) succeeded")
	}
}
