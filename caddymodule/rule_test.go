package caddymodule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/wasmfilter/wasmtest"
)

func TestRuleCaddyfile(t *testing.T) {
	tests := []struct {
		name    string
		inputs  []string
		want    Rules
		wantErr string
	}{
		{
			name:   "repeated rule sub-directives add rules in order",
			inputs: []string{`rule btg ./btg.wasm`, `rule nurse ./nurse.wasm`},
			want:   Rules{Rules: []RuleConfig{{Name: "btg", File: "./btg.wasm"}, {Name: "nurse", File: "./nurse.wasm"}}},
		},
		{
			name: "every rule option is read",
			inputs: []string{`rule nurse ./nurse.wasm {
				config role NURSE
				config org_claim org tenant
				config_json ` + "`" + `{"role_claim": ["role"]}` + "`" + `
				test ./nurse.json
				memory 16MiB
				timeout 20ms
				acquire_timeout 100ms
				instances 2 8
				max_input 32KiB
				max_result 4KiB
				max_log 1KiB
				upstream_headers X-Authz-Org X-Debug
				claims nurse_checked
			}`},
			want: Rules{Rules: []RuleConfig{{Name: "nurse", File: "./nurse.wasm",
				Config: map[string][]string{"role": {"NURSE"}, "org_claim": {"org", "tenant"}, "role_claim": {"role"}},
				Tests:  "./nurse.json", MemoryLimit: 16 << 20, Timeout: caddy.Duration(20 * time.Millisecond),
				AcquireTimeout: caddy.Duration(100 * time.Millisecond), MinInstances: 2, MaxInstances: 8,
				MaxInput: 32 << 10, MaxResult: 4 << 10, MaxLog: 1 << 10,
				UpstreamHeaders: []string{"X-Authz-Org", "X-Debug"}, Claims: []string{"nurse_checked"}}}},
		},
		{
			name: "a bare rule block sets the shared options",
			inputs: []string{`rule {
				context_headers accept x-request-id
				all_abstain deny
				error_status 500
				fhir_base /fhir
				cache_dir off
			}`, `rule a ./a.wasm`},
			want: Rules{ContextHeaders: []string{"accept", "x-request-id"}, AllAbstain: "deny", ErrorStatus: 500,
				FHIRBase: "/fhir", CacheDir: "off", Rules: []RuleConfig{{Name: "a", File: "./a.wasm"}}},
		},
		{name: "a rule named twice is refused", inputs: []string{`rule a ./a.wasm`, `rule a ./b.wasm`}, wantErr: `rule "a": configured twice`},
		{name: "a rule without a file is refused", inputs: []string{`rule a`}, wantErr: "got 1 arguments"},
		{name: "an unknown rule option is refused", inputs: []string{"rule a ./a.wasm {\n fuel 100\n}"}, wantErr: `rule "a": unknown option "fuel"`},
		{name: "an unknown shared option is refused", inputs: []string{"rule {\n order any\n}"}, wantErr: `rule: unknown option "order"`},
		{name: "a bad all_abstain is refused", inputs: []string{"rule {\n all_abstain maybe\n}"}, wantErr: `rule all_abstain "maybe"`},
		{name: "a 2xx error status is refused", inputs: []string{"rule {\n error_status 200\n}"}, wantErr: `rule error_status "200"`},
		{name: "a bad memory size is refused", inputs: []string{"rule a ./a.wasm {\n memory lots\n}"}, wantErr: `rule "a" memory "lots"`},
		{name: "a negative timeout is refused", inputs: []string{"rule a ./a.wasm {\n timeout -1s\n}"}, wantErr: `rule "a" timeout "-1s"`},
		{name: "a config without a value is refused", inputs: []string{"rule a ./a.wasm {\n config role\n}"}, wantErr: "config: want `config <key> <value>...`"},
		{name: "config_json that is not string lists is refused", inputs: []string{"rule a ./a.wasm {\n config_json `{\"a\":1}`\n}"}, wantErr: "config_json: want a JSON object of string lists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Rules
			if !checkErr(t, unmarshal(&got, tt.inputs...), tt.wantErr) {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(Rules{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRuleProvisionRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	btg := filepath.Join(dir, "btg.wasm")
	if err := os.WriteFile(btg, wasmtest.WAT(t, "../wasmfilter/examples/breakglass_wat/breakglass.wat"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := filepath.Join(dir, "start.wasm")
	if err := os.WriteFile(start, wasmtest.WAT(t, "../wasmfilter/testdata/start.wat"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "wrong.json")
	if err := os.WriteFile(wrong, []byte(`[{"name":"no override is allowed","input":{},"want":"allow"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	rule := func(rc RuleConfig) Rules { return Rules{CacheDir: "off", Rules: []RuleConfig{rc}} }
	tests := []struct {
		name string
		p    Rules
		want string
	}{
		{"no rules at all", Rules{}, "rule: no rules configured"},
		{"a missing file", rule(RuleConfig{Name: "a", File: filepath.Join(dir, "absent.wasm")}), `rule "a" file: open`},
		{"a WASI command", rule(RuleConfig{Name: "a", File: start}), "exports _start"},
		{"a rule failing its tests", rule(RuleConfig{Name: "btg", File: btg, Tests: wrong}),
			`rule "btg" tests ` + wrong + `: wasmfilter: rule "btg" fails 1 of 1 test vectors: ["no override is allowed": want allow, got abstain]`},
		{"an Authorization obligation", rule(RuleConfig{Name: "a", File: btg, UpstreamHeaders: []string{"Authorization"}}),
			`rule "a" upstream_headers "Authorization"`},
		{"a forwarded-certificate obligation", rule(RuleConfig{Name: "a", File: btg, UpstreamHeaders: []string{"X-SSL-Client-Cert"}}),
			`rule "a" upstream_headers "X-SSL-Client-Cert"`},
		{"Authorization in the context", Rules{CacheDir: "off", ContextHeaders: []string{"Authorization"}, Rules: []RuleConfig{{Name: "a", File: btg}}},
			`rule context_headers "Authorization"`},
		{"a bad rule name", rule(RuleConfig{Name: "Bad Name", File: btg}), `rule "Bad Name": a name is 1 to 64`},
		{"a memory limit below a page", rule(RuleConfig{Name: "a", File: btg, MemoryLimit: 1000}), `rule "a" memory 1000`},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused at provision", func(t *testing.T) {
			err := provision(t, &tt.p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// A reload with an unchanged rule takes the loaded rule, warm, from the
// pool; the rule closes only when no config uses it.
func TestRuleIsReusedAcrossReloads(t *testing.T) {
	btg := filepath.Join(t.TempDir(), "btg.wasm")
	if err := os.WriteFile(btg, wasmtest.WAT(t, "../wasmfilter/examples/breakglass_wat/breakglass.wat"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := func() *Rules {
		return &Rules{CacheDir: "off", AllAbstain: "deny", Rules: []RuleConfig{{Name: "btg", File: btg}}}
	}
	old, next := cfg(), cfg()
	if err := provision(t, old); err != nil {
		t.Fatal(err)
	}
	if err := provision(t, next); err != nil {
		t.Fatal(err)
	}
	if old.set.Rules[0] != next.set.Rules[0] {
		t.Fatal("the unchanged rule was loaded again")
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	req := pipeline.NewRequest(nil, &pipeline.Route{}, time.Now())
	req.Principal.Override = true
	req.Principal.PurposeOfUse = []string{"EMERG"}
	if d := next.Decide(t.Context(), req); d.Effect != pipeline.Allow {
		t.Fatalf("after the old config's cleanup: got %v %v, want allow", d.Effect, d.Failure)
	}
	changed := cfg()
	changed.Rules[0].Config = map[string][]string{"purpose_of_use": {"ETREAT"}}
	if err := provision(t, changed); err != nil {
		t.Fatal(err)
	}
	if changed.set.Rules[0] == next.set.Rules[0] {
		t.Fatal("a rule with another config was taken from the pool")
	}
	// Caddy cleans a config up while its servers finish their requests:
	// its rules stay until it has been idle for ruleLinger.
	if err := changed.Cleanup(); err != nil {
		t.Fatal(err)
	}
	req.Principal.PurposeOfUse = []string{"ETREAT"}
	if d := changed.Decide(t.Context(), req); d.Effect != pipeline.Allow {
		t.Fatalf("right after cleanup: got %v %v, want allow", d.Effect, d.Failure)
	}
	deadline := time.Now().Add(10 * ruleLinger)
	for changed.set.Rules[0].Stats().Instances > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the cleaned-up config's rule was never closed")
		}
		time.Sleep(ruleLinger / 8)
	}
	if d := changed.Decide(t.Context(), req); d.Effect != pipeline.Deny || d.Failure.Status != 503 {
		t.Fatalf("after the linger: got %v %v, want a 503 refusal from the closed rule", d.Effect, d.Failure)
	}
}
