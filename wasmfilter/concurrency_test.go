package wasmfilter_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/wasmfilter"
	"github.com/healthgate/healthgate/wasmfilter/wasmtest"
)

// Many parallel evaluations, with a reload (new rules from the same modules,
// the old ones closed) in the middle: every decision is the right one or,
// for an evaluation that raced the close, a refusal. Run with -race.
func TestConcurrentEvaluationsWithReload(t *testing.T) {
	h := newHost(t)
	btgWasm := wasmtest.WAT(t, "examples/breakglass_wat/breakglass.wat")
	trapWasm := fixture(t, "trap")
	load := func(gen int) (*wasmfilter.Set, []*wasmfilter.Rule) {
		limits := wasmfilter.Limits{MinInstances: 2, MaxInstances: 4, Timeout: 2 * time.Second, AcquireTimeout: 2 * time.Second}
		btg := newRule(t, h, btgWasm, wasmfilter.Options{Name: fmt.Sprint("btg-", gen), Limits: limits})
		trap := newRule(t, h, trapWasm, wasmfilter.Options{Name: fmt.Sprint("trap-", gen), Limits: limits})
		rules := []*wasmfilter.Rule{btg, trap}
		return &wasmfilter.Set{Rules: rules, AllAbstain: pipeline.Deny}, rules
	}
	first, oldRules := load(1)
	var current atomic.Pointer[wasmfilter.Set]
	current.Store(first)

	type tc struct {
		pou    []string
		fail   bool
		status int
		effect pipeline.Effect
	}
	cases := []tc{
		{pou: []string{"EMERG"}, effect: pipeline.Allow},
		{pou: []string{"TREAT"}, effect: pipeline.Deny, status: 403},
		{pou: []string{"EMERG"}, fail: true, effect: pipeline.Deny, status: 503},
	}
	const workers, perWorker = 8, 300
	var done, closedRefusals atomic.Int64
	reloaded := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				c := cases[(w+i)%len(cases)]
				req := request("/fhir/Patient", nil)
				req.Principal.Override = true
				req.Principal.PurposeOfUse = c.pou
				if c.fail {
					req.Principal.Claims = failing
				}
				d := current.Load().Decide(t.Context(), req)
				if d.Effect == pipeline.Deny && d.Failure.Status == 503 && classOf(d.Failure.Err) == wasmfilter.ClassClosed {
					closedRefusals.Add(1)
				} else if d.Effect != c.effect || (c.status != 0 && d.Failure.Status != c.status) {
					errs <- fmt.Sprintf("worker %d request %d (%+v): got %v %v", w, i, c, d.Effect, d.Failure)
					return
				}
				if done.Add(1) == workers*perWorker/2 {
					close(reloaded)
				}
			}
		}()
	}
	<-reloaded
	second, _ := load(2)
	current.Store(second)
	for _, r := range oldRules {
		if err := r.Close(); err != nil {
			t.Errorf("closing %s: %v", r.Name(), err)
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for _, r := range oldRules {
		if n := r.Stats().Instances; n != 0 {
			t.Errorf("closed rule %s keeps %d instances", r.Name(), n)
		}
	}
	for _, r := range second.Rules {
		if n := r.Stats().Instances; n > 4 {
			t.Errorf("rule %s has %d instances, over its max of 4", r.Name(), n)
		}
	}
	t.Logf("%d evaluations, %d refused because they raced the reload", done.Load(), closedRefusals.Load())
}
