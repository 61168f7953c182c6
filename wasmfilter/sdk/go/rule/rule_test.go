package rule

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/wasmfilter"
)

// The SDK writes results by hand; the host must read each back as written.
func TestResultJSONIsWhatTheHostParses(t *testing.T) {
	tests := []struct {
		name string
		d    Decision
		r    Result
		want wasmfilter.Result
	}{
		{"a bare allow", Allow, Result{}, wasmfilter.Result{Effect: pipeline.Allow}},
		{"a deny with quotes, a newline and a control byte in the reason", Deny,
			Result{Status: 451, Code: "legal_hold", Reason: "say \"no\"\n\x01\\"},
			wasmfilter.Result{Effect: pipeline.Deny, Status: 451, Code: "legal_hold", Reason: "say \"no\"\n\x01\\"}},
		{"an allow with every obligation", Allow,
			Result{SetHeaders: map[string]string{"X-B": "2", "X-A": "1"}, RemoveHeaders: []string{"X-Debug"},
				Claims: map[string][]string{"checked": {"yes"}, "tags": {"a", "b"}}},
			wasmfilter.Result{Effect: pipeline.Allow, Obligations: wasmfilter.Obligations{
				SetHeaders: map[string]string{"X-A": "1", "X-B": "2"}, RemoveHeaders: []string{"X-Debug"},
				Claims: map[string][]string{"checked": {"yes"}, "tags": {"a", "b"}}}}},
		{"an abstain", Abstain, Result{Reason: "not mine"}, wasmfilter.Result{Effect: pipeline.Abstain, Reason: "not mine"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" round-trips", func(t *testing.T) {
			got, err := wasmfilter.ParseResult(int32(tt.d), tt.r.appendJSON(nil, tt.d))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitNULValues(t *testing.T) {
	if diff := cmp.Diff([]string{"TREAT", "", "EMERG"}, split(3, []byte("TREAT\x00\x00EMERG\x00"))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if split(0, []byte("x\x00")) != nil {
		t.Errorf("an absent attribute split into values")
	}
}

// FuzzResultJSON: whatever text a rule puts in its result, the JSON the SDK
// writes parses on the host, and a valid reason comes back unchanged.
func FuzzResultJSON(f *testing.F) {
	f.Add("reason", "code", "X-Org", "org-42", "claim", "v")
	f.Add("\"\\\n\x00\u2028", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, reason, code, header, value, claim, claimValue string) {
		r := Result{Reason: reason, Code: code, SetHeaders: map[string]string{header: value}, Claims: map[string][]string{claim: {claimValue}}}
		raw := r.appendJSON(nil, Allow)
		got, err := wasmfilter.ParseResult(int32(Allow), raw)
		if err != nil {
			if !errors.Is(err, wasmfilter.ErrABIViolation) || strings.Contains(err.Error(), "does not parse") && utf8.ValidString(reason+code+header+value+claim+claimValue) {
				t.Fatalf("SDK JSON %q refused: %v", raw, err)
			}
			return
		}
		if utf8.ValidString(reason) && got.Reason != reason {
			t.Fatalf("reason %q came back as %q", reason, got.Reason)
		}
	})
}
