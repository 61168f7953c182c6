package caddymodule

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/wasmfilter"
)

func init() { registerSubcommand(ruleCommand) }

// ruleCommand is `caddy healthgate rule`, with `rule test`.
func ruleCommand() *cobra.Command {
	rule := &cobra.Command{Use: "rule", Short: "Work with WebAssembly site rules"}
	test := &cobra.Command{
		Use:   "test RULE.wasm VECTORS.json",
		Short: "Run a rule against test vectors and print a table",
		Long: `
Loads RULE.wasm as the gateway would (ABI v1 checks, limits, configure) and
evaluates each vector of VECTORS.json, a JSON array of
{"name", "input" (a security context), "want" (allow|deny|abstain),
"status", "code"}. Prints one line per vector and exits non-zero if any
fails or the rule does not load.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			configs, _ := cmd.Flags().GetStringArray("config")
			timeout, _ := cmd.Flags().GetDuration("timeout")
			return runRuleTest(cmd, args[0], args[1], configs, timeout)
		},
	}
	test.Flags().StringArray("config", nil, "rule config as key=value[,value...]; repeatable")
	test.Flags().Duration("timeout", 100*time.Millisecond, "evaluation timeout")
	rule.AddCommand(test)
	return rule
}

func runRuleTest(cmd *cobra.Command, wasmPath, vectorsPath string, configs []string, timeout time.Duration) error {
	config := map[string][]string{}
	for _, kv := range configs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--config %q: want key=value[,value...]", kv)
		}
		config[k] = append(config[k], strings.Split(v, ",")...)
	}
	wasm, err := readModule(wasmPath)
	if err != nil {
		return fmt.Errorf("reading rule: %w", err)
	}
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		return fmt.Errorf("reading vectors: %w", err)
	}
	vs, err := wasmfilter.ParseVectors(b)
	if err != nil {
		return err
	}
	host, err := wasmfilter.NewHost("")
	if err != nil {
		return err
	}
	ctx := context.Background()
	defer host.Close(ctx)
	r, err := host.NewRule(ctx, wasm, wasmfilter.Options{Name: "test", Config: config,
		Limits: wasmfilter.Limits{Timeout: timeout, MinInstances: 1, MaxInstances: 1, AcquireTimeout: 10 * time.Second}})
	if err != nil {
		return err
	}
	defer r.Close()

	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "RESULT\tVECTOR\tWANT\tGOT")
	failed := 0
	for _, res := range r.Test(vs) {
		mark := "PASS"
		if !res.Pass {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", mark, res.Vector.Name, want(res.Vector), got(res))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%d of %d vectors passed\n", len(vs)-failed, len(vs))
	if failed > 0 {
		return fmt.Errorf("%d of %d vectors failed", failed, len(vs))
	}
	return nil
}

func want(v wasmfilter.Vector) string {
	s := v.Want
	if v.Status != 0 {
		s += fmt.Sprintf(" %d", v.Status)
	}
	if v.Code != "" {
		s += " " + v.Code
	}
	return s
}

func got(res wasmfilter.VectorResult) string {
	if res.Err != nil {
		return "error: " + res.Err.Error()
	}
	g := res.Got
	s := g.Effect.String()
	if g.Effect == pipeline.Deny {
		s += fmt.Sprintf(" %d %s", g.DenyStatus(), g.DenyCode())
	}
	if g.Reason != "" {
		s += " (" + g.Reason + ")"
	}
	return s
}
