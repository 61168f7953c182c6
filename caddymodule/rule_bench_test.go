package caddymodule

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/healthgate/healthgate/wasmfilter/wasmtest"
)

// BenchmarkRuleReload measures what a config reload costs the rule policy:
// provisioning a Rules whose rules are already loaded by the running config
// (unchanged: taken from the pool, warm), against one whose Go rule changed
// its config (compiled again through the shared in-memory cache and
// instantiated) and a first load of a WAT rule. Report ratios against
// "unchanged".
//
//	go test -run '^$' -bench BenchmarkRuleReload -benchmem ./caddymodule/
func BenchmarkRuleReload(b *testing.B) {
	dir := b.TempDir()
	write := func(name string, wasm []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, wasm, 0o600); err != nil {
			b.Fatal(err)
		}
		return p
	}
	nurse := write("nurse.wasm", wasmtest.Go(b, "../wasmfilter/examples/nurse"))
	btg := write("btg.wasm", wasmtest.WAT(b, "../wasmfilter/examples/breakglass_wat/breakglass.wat"))
	config := func(orgClaim string) *Rules {
		return &Rules{CacheDir: "off", Rules: []RuleConfig{
			{Name: "btg", File: btg},
			{Name: "nurse", File: nurse, MinInstances: 1, MaxInstances: 2, Config: map[string][]string{"org_claim": {orgClaim}}},
		}}
	}
	ctx := testContext(b)
	running := config("org")
	if err := running.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	defer running.Cleanup()

	reload := func(b *testing.B, next func(i int) *Rules) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p := next(i)
			if err := p.Provision(ctx); err != nil {
				b.Fatal(err)
			}
			if err := p.Cleanup(); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	b.Run("unchanged", func(b *testing.B) { reload(b, func(int) *Rules { return config("org") }) })
	b.Run("go_rule_config_changed", func(b *testing.B) { reload(b, func(int) *Rules { return config("tenant") }) })
	b.Run("wat_rule_first_load", func(b *testing.B) {
		reload(b, func(int) *Rules {
			return &Rules{CacheDir: "off", Rules: []RuleConfig{{Name: "btg_new", File: btg}}}
		})
	})
}
