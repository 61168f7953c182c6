package wasmfilter_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/wasmfilter"
)

func TestRuleRefusedAtLoad(t *testing.T) {
	h := newHost(t)
	tests := []struct {
		name    string
		fixture string
		want    string
	}{
		{"a WASI command exporting _start is refused", "start", "exports _start"},
		{"a module without the ABI marker is refused", "no_marker", "does not export healthgate_rule_abi_v1"},
		{"evaluate with the wrong signature is refused", "bad_signature", "export evaluate has signature [i32] -> [i64], want [] -> [i32]"},
		{"a WASI file-system import is refused", "bad_import", "imports wasi_snapshot_preview1.path_open"},
		{"an import from another module is refused", "env_import", "imports env.fetch"},
		{"a module that does not export its memory is refused", "no_memory", `does not export its memory as "memory"`},
		{"a host function imported with the wrong signature is refused", "wrong_host_signature", "imports healthgate.get_attr with signature [i32 i32] -> [i32]"},
		{"a rule whose configure refuses is refused", "configure_fails", "configure returned 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.NewRule(context.Background(), fixture(t, tt.fixture), wasmfilter.Options{Name: tt.fixture})
			if err == nil {
				t.Fatal("loaded, want refused")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if tt.fixture != "configure_fails" && !errors.Is(err, wasmfilter.ErrABIViolation) {
				t.Errorf("error %v is not an ErrABIViolation", err)
			}
		})
	}
}

func TestRuleRefusesNonWasm(t *testing.T) {
	_, err := newHost(t).NewRule(context.Background(), []byte("not wasm"), wasmfilter.Options{Name: "junk"})
	if err == nil || !strings.Contains(err.Error(), `compiling rule "junk"`) {
		t.Fatalf("got %v, want a compile error naming the rule", err)
	}
}

// Each misbehaving guest is refused with its class, the instance is
// discarded, and the next request is served normally by its replacement.
func TestRuleFailureIsRefusedAndInstanceReplaced(t *testing.T) {
	h := newHost(t)
	tests := []struct {
		name    string
		fixture string
		limits  wasmfilter.Limits
		want    wasmfilter.Class
		detail  string
	}{
		{"a trap is refused", "trap", wasmfilter.Limits{}, wasmfilter.ClassTrap, "unreachable"},
		{"an endless loop is stopped at the timeout", "loop", wasmfilter.Limits{Timeout: 50 * time.Millisecond}, wasmfilter.ClassTimeout, "deadline exceeded"},
		{"memory growth past the limit is refused", "grow", wasmfilter.Limits{MemoryPages: 16}, wasmfilter.ClassMemory, "unreachable"},
		{"a buffer outside the guest's memory is an ABI violation", "out_of_bounds", wasmfilter.Limits{}, wasmfilter.ClassABI, "outside the guest's memory"},
		{"an unknown return code is an ABI violation", "bad_code", wasmfilter.Limits{}, wasmfilter.ClassABI, "evaluate returned 7"},
		{"a result saying allow while the code says deny is an ABI violation", "mismatch", wasmfilter.Limits{}, wasmfilter.ClassABI, `result says "allow" but evaluate returned 0 (deny)`},
		{"an oversized result is an ABI violation", "oversized", wasmfilter.Limits{}, wasmfilter.ClassABI, "result of 32768 bytes is over the 16384-byte limit"},
		{"an obligation on Authorization is an ABI violation", "forbidden_header", wasmfilter.Limits{}, wasmfilter.ClassABI, `sets header "Authorization", which is not allow-listed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.limits.MaxInstances = 1
			if tt.limits.Timeout == 0 {
				// Generous: these guests fail fast, but CI machines
				// under -race are slow.
				tt.limits.Timeout = 2 * time.Second
			}
			r := newRule(t, h, fixture(t, tt.fixture), wasmfilter.Options{
				Limits:      tt.limits,
				Obligations: wasmfilter.ObligationPolicy{Headers: []string{"X-Rule-Org", "X-Debug"}, Claims: []string{"rule_checked"}},
			})
			res, err := r.Evaluate(input(failing))
			if got := classOf(err); got != tt.want {
				t.Fatalf("got result %v, error %v (class %q), want class %q", res, err, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q does not say %q", err, tt.detail)
			}
			res, err = r.Evaluate(input(nil))
			if err != nil || res.Effect != pipeline.Allow {
				t.Fatalf("next request: got %v, %v, want allow", res, err)
			}
			st := r.Stats()
			if diff := cmp.Diff(map[wasmfilter.Class]uint64{tt.want: 1}, st.Errors); diff != "" {
				t.Errorf("error counts (-want +got):\n%s", diff)
			}
			if st.Discarded != 1 || st.Allow != 1 {
				t.Errorf("discarded %d, allowed %d; want 1 and 1", st.Discarded, st.Allow)
			}
		})
	}
}

func TestGoGuestPanicIsRefusedAndInstanceReplaced(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	r := newRule(t, newHost(t), goRule(t, "testdata/gopanic"), wasmfilter.Options{Logger: zap.New(core),
		Limits: wasmfilter.Limits{Timeout: time.Second, AcquireTimeout: 5 * time.Second, MaxInstances: 1},
	})
	_, err := r.Evaluate(input(failing))
	if classOf(err) != wasmfilter.ClassTrap || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("got %v, want a trap", err)
	}
	var stderr strings.Builder
	for _, e := range logs.FilterMessage("rule log").All() {
		stderr.WriteString(e.ContextMap()["message"].(string))
	}
	if !strings.Contains(stderr.String(), "panic: assignment to entry in nil map") {
		t.Errorf("the guest's panic message is not in the log: %q", stderr.String())
	}
	for i := range 3 {
		if res, err := r.Evaluate(input(nil)); err != nil || res.Effect != pipeline.Allow {
			t.Fatalf("request %d after the panic: got %v, %v, want allow", i, res, err)
		}
	}
}

func TestPoolIsBoundedAndAcquireTimesOut(t *testing.T) {
	r := newRule(t, newHost(t), fixture(t, "loop"), wasmfilter.Options{
		Limits: wasmfilter.Limits{MaxInstances: 1, Timeout: 300 * time.Millisecond, AcquireTimeout: 20 * time.Millisecond},
	})
	busy := make(chan error)
	go func() {
		_, err := r.Evaluate(input(failing))
		busy <- err
	}()
	// Wait until the only instance is taken.
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if _, err = r.Evaluate(input(nil)); classOf(err) == wasmfilter.ClassPool {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if classOf(err) != wasmfilter.ClassPool || !errors.Is(err, wasmfilter.ErrPoolTimeout) {
		t.Fatalf("got %v, want a pool timeout while the only instance is busy", err)
	}
	if err := <-busy; classOf(err) != wasmfilter.ClassTimeout {
		t.Fatalf("busy evaluation: got %v, want a timeout", err)
	}
	if n := r.Stats().Instances; n > 1 {
		t.Errorf("%d instances, want at most 1", n)
	}
}

func TestClosedRuleRefuses(t *testing.T) {
	r := newRule(t, newHost(t), fixture(t, "allow"), wasmfilter.Options{})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Evaluate(input(nil))
	if classOf(err) != wasmfilter.ClassClosed || !errors.Is(err, wasmfilter.ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestInputOverLimitIsRefused(t *testing.T) {
	r := newRule(t, newHost(t), fixture(t, "input"), wasmfilter.Options{Limits: wasmfilter.Limits{MaxInput: 200}})
	if res, err := r.Evaluate(input(map[string][]string{"role": {"NURSE"}})); err != nil || res.Effect != pipeline.Allow {
		t.Fatalf("small context: got %v, %v, want allow", res, err)
	}
	_, err := r.Evaluate(input(map[string][]string{"big": {strings.Repeat("x", 300)}}))
	if classOf(err) != wasmfilter.ClassInput || !errors.Is(err, wasmfilter.ErrInputTooLarge) {
		t.Fatalf("got %v, want ErrInputTooLarge", err)
	}
	if d := r.Stats().Discarded; d != 0 {
		t.Errorf("%d instances discarded, want 0: an oversized input is not the guest's fault", d)
	}
}

func TestCompilationCacheDirIsFilled(t *testing.T) {
	dir := t.TempDir()
	h, err := wasmfilter.NewHost(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	newRule(t, h, fixture(t, "allow"), wasmfilter.Options{})
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("cache dir %s is empty (%v)", dir, err)
	}
}

func TestRuleLogIsCappedPerEvaluation(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	r := newRule(t, newHost(t), fixture(t, "chatty"), wasmfilter.Options{Logger: zap.New(core), Limits: wasmfilter.Limits{MaxLog: 1000}})
	for range 2 {
		if res, err := r.Evaluate(input(nil)); err != nil || res.Effect != pipeline.Allow {
			t.Fatalf("got %v, %v, want allow: a chatty rule is not a failing one", res, err)
		}
	}
	entries := logs.FilterMessage("rule log").All()
	if len(entries) != 20 {
		t.Errorf("%d messages logged, want 20: 1000 bytes of 100-byte messages per evaluation", len(entries))
	}
	if e := entries[0]; e.Level != zap.WarnLevel || e.ContextMap()["rule"] != "test" {
		t.Errorf("entry %+v: want a warning naming the rule", e)
	}
	if d := r.Stats().LogDropped; d != 2*90 {
		t.Errorf("%d writes dropped, want 180: 90 of 100 per evaluation", d)
	}
}

func TestRuleLogsNothingWhenTheLevelIsOff(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	r := newRule(t, newHost(t), fixture(t, "chatty"), wasmfilter.Options{Logger: zap.New(core)})
	if res, err := r.Evaluate(input(nil)); err != nil || res.Effect != pipeline.Abstain {
		t.Fatalf("got %v, %v, want abstain: log_enabled(warn) must say no", res, err)
	}
	if logs.Len() != 0 {
		t.Errorf("%d entries logged", logs.Len())
	}
}
