package wasmfilter_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/wasmfilter"
)

func TestParseResultAccepts(t *testing.T) {
	tests := []struct {
		name string
		code int32
		raw  string
		want wasmfilter.Result
	}{
		{"an allow without a result", 1, "", wasmfilter.Result{Effect: pipeline.Allow}},
		{"an abstain without a result", 2, "", wasmfilter.Result{Effect: pipeline.Abstain}},
		{"a deny with status, code and reason", 0, `{"decision":"deny","status":451,"code":"legal_hold","reason":"held"}`,
			wasmfilter.Result{Effect: pipeline.Deny, Status: 451, Code: "legal_hold", Reason: "held"}},
		{"an allow with obligations", 1, `{"decision":"allow","obligations":{"request_headers":{"set":{"x-org":"o"},"remove":["x-debug"]},"claims":{"set":{"a":"1","b":["2","3"]}}}}`,
			wasmfilter.Result{Effect: pipeline.Allow, Obligations: wasmfilter.Obligations{
				SetHeaders: map[string]string{"X-Org": "o"}, RemoveHeaders: []string{"X-Debug"},
				Claims: map[string][]string{"a": {"1"}, "b": {"2", "3"}}}}},
		{"invalid UTF-8 in the reason is replaced", 0, "{\"decision\":\"deny\",\"reason\":\"\xff\"}",
			wasmfilter.Result{Effect: pipeline.Deny, Reason: "\ufffd"}},
		{"obligations on a deny are ignored", 0, `{"decision":"deny","obligations":{"request_headers":{"set":{"Authorization":"x"}}}}`,
			wasmfilter.Result{Effect: pipeline.Deny}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wasmfilter.ParseResult(tt.code, []byte(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseResultRefusesMaliciousResults(t *testing.T) {
	tests := []struct {
		name string
		code int32
		raw  string
		want string
	}{
		{"a return code outside the ABI", 3, "", "evaluate returned 3"},
		{"a negative return code", -1, "", "evaluate returned -1"},
		{"allow in the result, deny in the code", 0, `{"decision":"allow"}`, `result says "allow" but evaluate returned 0 (deny)`},
		{"a decision in another case", 1, `{"decision":"ALLOW"}`, `result says "ALLOW"`},
		{"a missing decision", 1, `{"reason":"x"}`, `result says ""`},
		{"a duplicate key that flips the decision", 0, `{"decision":"deny","decision":"allow"}`, `result says "allow"`},
		{"an unknown field", 1, `{"decision":"allow","allow":true}`, `unknown field "allow"`},
		{"trailing data", 1, `{"decision":"allow"}{"decision":"allow"}`, "data after the JSON object"},
		{"not JSON", 1, `allow`, "does not parse"},
		{"truncated JSON", 1, `{"decision":"allow"`, "does not parse"},
		{"a JSON array", 1, `["allow"]`, "does not parse"},
		{"a status on an allow", 1, `{"decision":"allow","status":200}`, "status 200 on a allow result"},
		{"a 200 deny", 0, `{"decision":"deny","status":200}`, "status 200 is not one of"},
		{"a redirecting deny", 0, `{"decision":"deny","status":302}`, "status 302 is not one of"},
		{"a code with capitals", 0, `{"decision":"deny","code":"Denied"}`, `code "Denied" does not match`},
		{"a code with a newline", 0, `{"decision":"deny","code":"a\nb"}`, "does not match"},
		{"an overlong reason", 0, `{"decision":"deny","reason":"` + strings.Repeat("x", 2000) + `"}`, "reason is not valid UTF-8 of at most 1024 bytes"},
		{"a header name with a space", 1, `{"decision":"allow","obligations":{"request_headers":{"set":{"x y":"1"}}}}`, `header obligation "x y" is not a valid header`},
		{"a header value with CRLF", 1, `{"decision":"allow","obligations":{"request_headers":{"set":{"X-A":"1\r\nX-B: 2"}}}}`, "is not a valid header"},
		{"a removed header with a colon", 1, `{"decision":"allow","obligations":{"request_headers":{"remove":["x:y"]}}}`, "not a valid header name"},
		{"a claim name with a space", 1, `{"decision":"allow","obligations":{"claims":{"set":{"a b":"1"}}}}`, `claim name "a b" does not match`},
		{"a claim without values", 1, `{"decision":"allow","obligations":{"claims":{"set":{"a":[]}}}}`, `claim "a" needs 1 to 32 values`},
		{"a claim value that is a number", 1, `{"decision":"allow","obligations":{"claims":{"set":{"a":1}}}}`, "does not parse"},
		{"claim removal, which rules may not do", 1, `{"decision":"allow","obligations":{"claims":{"remove":["role"]}}}`, `unknown field "remove"`},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is an ABI violation", func(t *testing.T) {
			got, err := wasmfilter.ParseResult(tt.code, []byte(tt.raw))
			if err == nil {
				t.Fatalf("accepted as %v", got)
			}
			if !errors.Is(err, wasmfilter.ErrABIViolation) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want an ABI violation saying %q", err, tt.want)
			}
		})
	}
}

// FuzzParseResult: whatever a guest sets, a result that parses agrees with
// the return code, carries obligations only on allow, and stays in bounds.
func FuzzParseResult(f *testing.F) {
	for _, s := range []string{"", `{"decision":"allow"}`, `{"decision":"deny","status":403,"code":"x","reason":"r"}`,
		`{"decision":"allow","obligations":{"request_headers":{"set":{"X-A":"1"},"remove":["X-B"]},"claims":{"set":{"c":["1"]}}}}`,
		`{"decision":"abstain"}`, `{"decision":"deny","decision":"allow"}`, `{"DECISION":"allow"}`} {
		for code := int32(-1); code <= 3; code++ {
			f.Add(code, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, code int32, raw []byte) {
		res, err := wasmfilter.ParseResult(code, raw)
		if err != nil {
			if !errors.Is(err, wasmfilter.ErrABIViolation) {
				t.Fatalf("error %v is not an ABI violation", err)
			}
			return
		}
		want := map[int32]pipeline.Effect{0: pipeline.Deny, 1: pipeline.Allow, 2: pipeline.Abstain}
		if e, ok := want[code]; !ok || e != res.Effect {
			t.Fatalf("code %d parsed as %v", code, res.Effect)
		}
		if res.Effect != pipeline.Allow && !res.Obligations.Empty() {
			t.Fatalf("obligations on %v", res.Effect)
		}
		if res.Status != 0 && (res.Effect != pipeline.Deny || !slices.Contains(wasmfilter.AllowedDenyStatus, res.Status)) {
			t.Fatalf("status %d on %v", res.Status, res.Effect)
		}
		for name := range res.Obligations.SetHeaders {
			if name != http.CanonicalHeaderKey(name) {
				t.Fatalf("header %q not canonical", name)
			}
		}
		if len(res.Reason) > 1024 {
			t.Fatalf("reason of %d bytes", len(res.Reason))
		}
	})
}

func TestParseVectorsRefusesMalformedFiles(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"an empty list", `[]`, "none given"},
		{"an object instead of a list", `{"name":"x"}`, "cannot unmarshal object"},
		{"a vector without a name", `[{"input":{},"want":"allow"}]`, "test vector 0 has no name"},
		{"an unknown decision", `[{"name":"a","input":{},"want":"permit"}]`, `want "permit"`},
		{"an unknown field", `[{"name":"a","input":{},"want":"allow","expect":"deny"}]`, `unknown field "expect"`},
		{"an unknown field in the input", `[{"name":"a","input":{"principle":{}},"want":"allow"}]`, `unknown field "principle"`},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			_, err := wasmfilter.ParseVectors([]byte(tt.raw))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// FuzzParseVectors: a vectors file either parses into named vectors with a
// known decision or is refused, never a panic.
func FuzzParseVectors(f *testing.F) {
	f.Add([]byte(`[{"name":"a","input":{"principal":{"override":true}},"want":"deny","status":403}]`))
	f.Add([]byte(`[{"name":"a","input":{},"want":"allow"}]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		vs, err := wasmfilter.ParseVectors(raw)
		if err != nil {
			return
		}
		for _, v := range vs {
			if v.Name == "" || !slices.Contains([]string{"allow", "deny", "abstain"}, v.Want) {
				t.Fatalf("accepted vector %+v", v)
			}
		}
	})
}
