package wasmfilter_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/wasmfilter"
	"github.com/healthgate/healthgate/wasmfilter/wasmtest"
)

func vectors(t testing.TB, path string) []wasmfilter.Vector {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := wasmfilter.ParseVectors(b)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// The example rules pass their own vectors; the Go and the WAT
// break-the-glass rule pass the same ones.
func TestExampleRulesPassTheirVectors(t *testing.T) {
	h := newHost(t)
	tests := []struct {
		name    string
		wasm    func(t testing.TB) []byte
		vectors string
		config  map[string][]string
	}{
		{"the Go break-the-glass rule", func(t testing.TB) []byte { return goRule(t, "examples/breakglass") }, "examples/breakglass/vectors.json", nil},
		{"the WAT break-the-glass rule", func(t testing.TB) []byte {
			return wasmtest.WAT(t, filepath.Join("examples", "breakglass_wat", "breakglass.wat"))
		}, "examples/breakglass/vectors.json", nil},
		{"the nurse rule", func(t testing.TB) []byte { return goRule(t, "examples/nurse") }, "examples/nurse/vectors.json", nil},
		{"the hours rule", func(t testing.TB) []byte { return goRule(t, "examples/hours") }, "examples/hours/vectors.json",
			map[string][]string{"role": {"NURSE"}, "hours": {"07:00-19:00"}, "except_purpose_of_use": {"EMERG"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRule(t, h, tt.wasm(t), wasmfilter.Options{Config: tt.config,
				Limits: wasmfilter.Limits{Timeout: time.Second, AcquireTimeout: 5 * time.Second}})
			for _, res := range r.Test(vectors(t, tt.vectors)) {
				if !res.Pass {
					t.Errorf("%s: want %s, got %v (%v)", res.Vector.Name, res.Vector.Want, res.Got, res.Err)
				}
			}
		})
	}
}

// The vectors check fails when a vector is wrong, so it can refuse a rule.
func TestCheckVectorsNamesEachFailure(t *testing.T) {
	r := newRule(t, newHost(t), wasmtest.WAT(t, "examples/breakglass_wat/breakglass.wat"), wasmfilter.Options{Name: "btg"})
	vs := vectors(t, "examples/breakglass/vectors.json")
	if err := r.CheckVectors(vs); err != nil {
		t.Fatalf("correct vectors: %v", err)
	}
	vs[1].Want = "deny"
	vs[2].Code = "other_code"
	err := r.CheckVectors(vs)
	want := `wasmfilter: rule "btg" fails 2 of 5 test vectors: ["override with EMERG allows": want deny, got allow "override with only TREAT denies": want deny, got deny 403 purpose_of_use_required]`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// The break-the-glass rule accepts a configured set of purposes of use.
func TestBreakGlassAcceptsConfiguredPurposes(t *testing.T) {
	h := newHost(t)
	for _, name := range []string{"go", "wat"} {
		t.Run("the "+name+" rule allows ETREAT when configured and refuses EMERG then", func(t *testing.T) {
			wasm := goRule(t, "examples/breakglass")
			if name == "wat" {
				wasm = wasmtest.WAT(t, "examples/breakglass_wat/breakglass.wat")
			}
			r := newRule(t, h, wasm, wasmfilter.Options{Config: map[string][]string{"purpose_of_use": {"ETREAT", "BTG"}},
				Limits: wasmfilter.Limits{Timeout: time.Second}})
			for pou, want := range map[string]string{"ETREAT": "allow", "BTG": "allow", "EMERG": "deny"} {
				in := input(nil)
				in.Principal.Override = true
				in.Principal.PurposeOfUse = []string{"TREAT", pou}
				res, err := r.Evaluate(in)
				if err != nil || res.Effect.String() != want {
					t.Errorf("purpose %s: got %v, %v, want %s", pou, res, err, want)
				}
			}
		})
	}
}

func TestHoursRuleRefusesABadConfig(t *testing.T) {
	_, err := newHost(t).NewRule(t.Context(), goRule(t, "examples/hours"), wasmfilter.Options{Name: "hours",
		Config: map[string][]string{"role": {"NURSE"}, "hours": {"7-19"}}})
	if err == nil || !strings.Contains(err.Error(), "configure returned 1") {
		t.Fatalf("got %v, want the rule refused by its configure", err)
	}
}

// A vector names a deny by what the client gets: a rule that sets no
// result denies 403 rule_denied, and a vector saying so passes.
func TestVectorsMatchTheDefaultDenyStatusAndCode(t *testing.T) {
	r := newRule(t, newHost(t), fixture(t, "deny"), wasmfilter.Options{Name: "deny"})
	vs := []wasmfilter.Vector{{Name: "default", Want: "deny", Status: 403, Code: "rule_denied"}}
	if err := r.CheckVectors(vs); err != nil {
		t.Fatalf("vector with the default status and code: %v", err)
	}
	vs[0].Code = "other_code"
	want := `wasmfilter: rule "deny" fails 1 of 1 test vectors: ["default": want deny, got deny 403 rule_denied]`
	if err := r.CheckVectors(vs); err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
