package wasmfilter

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// Options configure a Rule.
type Options struct {
	// Name identifies the rule in logs, metrics and decisions.
	Name string
	// Config is the rule's configuration: FuncGetConfig returns it as a
	// JSON object, FuncGetAttr as "config.<key>".
	Config map[string][]string
	Limits Limits
	// Obligations bounds what the rule's obligations may touch.
	Obligations ObligationPolicy
	// Logger receives the rule's log messages and instantiation errors.
	// Default: none.
	Logger *zap.Logger
}

// initTimeout bounds instantiation, _initialize and configure.
const initTimeout = 10 * time.Second

// Rule is a compiled rule with its pool of instances. Evaluate is safe for
// concurrent use.
type Rule struct {
	name        string
	sum         [sha256.Size]byte
	limits      Limits
	config      map[string][]string
	configJSON  []byte
	obligations ObligationPolicy
	logger      *zap.Logger

	runtime       wazero.Runtime
	compiled      wazero.CompiledModule
	hasInitialize bool
	hasConfigure  bool
	wasi          bool
	pool          *pool

	// mu is held shared by evaluations and exclusively by Close, so
	// Close waits for evaluations in flight (each bounded by its
	// timeouts) before it closes the runtime.
	mu     sync.RWMutex
	closed bool
	stats  stats
}

// instance is one instantiated guest. It serves one evaluation at a time.
type instance struct {
	mod      api.Module
	evaluate api.Function
	// ctx carries st to the host functions.
	ctx   context.Context
	st    callState
	stack []uint64
}

// NewRule compiles wasm, checks its exports and imports, instantiates
// MinInstances and runs configure on each. Any failure refuses the rule.
func (h *Host) NewRule(ctx context.Context, wasm []byte, opts Options) (_ *Rule, err error) {
	if len(wasm) > MaxModuleSize {
		return nil, fmt.Errorf("wasmfilter: rule %q: module is %d bytes, over the %d-byte cap", opts.Name, len(wasm), MaxModuleSize)
	}
	if err := opts.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("rule %q: %w", opts.Name, err)
	}
	for _, h := range opts.Obligations.Headers {
		if err := CheckObligationHeader(h, nil); err != nil {
			return nil, fmt.Errorf("rule %q obligation headers: %w", opts.Name, err)
		}
	}
	r := &Rule{
		name:        opts.Name,
		sum:         sha256.Sum256(wasm),
		limits:      opts.Limits.WithDefaults(),
		config:      opts.Config,
		obligations: opts.Obligations,
		logger:      opts.Logger,
	}
	if r.logger == nil {
		r.logger = zap.NewNop()
	}
	r.logger = r.logger.With(zap.String("rule", r.name))
	if r.config == nil {
		r.config = map[string][]string{}
	}
	if r.configJSON, err = json.Marshal(r.config); err != nil {
		return nil, fmt.Errorf("wasmfilter: rule %q: encoding config: %w", r.name, err)
	}
	r.runtime = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCompilationCache(h.cache).
		WithMemoryLimitPages(r.limits.MemoryPages).
		WithCloseOnContextDone(true))
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if r.compiled, err = r.runtime.CompileModule(ctx, wasm); err != nil {
		return nil, fmt.Errorf("wasmfilter: compiling rule %q: %w", r.name, err)
	}
	if err := r.checkModule(); err != nil {
		return nil, fmt.Errorf("wasmfilter: rule %q: %w", r.name, err)
	}
	if r.wasi {
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.runtime); err != nil {
			return nil, fmt.Errorf("wasmfilter: rule %q: instantiating WASI: %w", r.name, err)
		}
	}
	if err := instantiateHostModule(ctx, r.runtime); err != nil {
		return nil, fmt.Errorf("wasmfilter: rule %q: instantiating host functions: %w", r.name, err)
	}
	r.pool = newPool(r.limits.MinInstances, r.limits.MaxInstances, r.newInstance, func(err error) {
		r.logger.Error("instantiating rule", zap.Error(err))
	})
	if err := r.pool.warm(ctx); err != nil {
		return nil, fmt.Errorf("wasmfilter: rule %q: %w", r.name, err)
	}
	return r, nil
}

// Name returns the rule's name.
func (r *Rule) Name() string { return r.name }

// Limits returns the rule's limits, defaults applied.
func (r *Rule) Limits() Limits { return r.limits }

// newInstance instantiates the guest and runs its initialiser and configure.
func (r *Rule) newInstance(ctx context.Context) (*instance, error) {
	in := &instance{stack: make([]uint64, 1)}
	in.st.rule = r
	in.st.reset(nil)
	in.ctx = context.WithValue(context.Background(), stateKey{}, &in.st)
	out := guestOutput{&in.st}
	cfg := wazero.NewModuleConfig().WithName("").
		WithStdout(out).WithStderr(out).
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader).
		WithStartFunctions()
	if r.hasInitialize {
		cfg = cfg.WithStartFunctions(ExportInitialize)
	}
	ictx, cancel := context.WithTimeout(context.WithValue(ctx, stateKey{}, &in.st), initTimeout)
	defer cancel()
	mod, err := r.runtime.InstantiateModule(ictx, r.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiating: %w", err)
	}
	in.mod = mod
	in.evaluate = mod.ExportedFunction(ExportEvaluate)
	if r.hasConfigure {
		res, err := mod.ExportedFunction(ExportConfigure).Call(ictx)
		switch {
		case err != nil:
			err = fmt.Errorf("%s: %w", ExportConfigure, err)
		case in.st.violation != nil:
			err = fmt.Errorf("%s: %w", ExportConfigure, in.st.violation)
		case int32(res[0]) != 0:
			err = fmt.Errorf("%s returned %d: the rule refuses its configuration (see its log)", ExportConfigure, int32(res[0]))
		}
		if err != nil {
			in.close()
			return nil, err
		}
	}
	return in, nil
}

func (in *instance) close() { _ = in.mod.Close(context.Background()) }

// guestOutput routes a guest's WASI stdout and stderr (a Go panic's
// message, say) to the log, within the evaluation's budget.
type guestOutput struct{ st *callState }

func (o guestOutput) Write(b []byte) (int, error) {
	o.st.log(zapcore.WarnLevel, b)
	return len(b), nil
}

// Evaluate runs the rule over in. An error is an *EvalError and always
// refuses the request; the instance that failed was discarded.
func (r *Rule) Evaluate(in *Input) (Result, error) {
	if !r.mu.TryRLock() {
		return Result{}, r.fail(ClassClosed, ErrClosed)
	}
	defer r.mu.RUnlock()
	if r.closed {
		return Result{}, r.fail(ClassClosed, ErrClosed)
	}
	inst, err := r.pool.acquire(r.limits.AcquireTimeout)
	if err != nil {
		class := ClassPool
		if errors.Is(err, ErrClosed) {
			class = ClassClosed
		}
		return Result{}, r.fail(class, err)
	}
	st := &inst.st
	st.reset(in)
	ctx, cancel := context.WithTimeout(inst.ctx, r.limits.Timeout)
	err = inst.evaluate.CallWithStack(ctx, inst.stack)
	cancel()
	st.in = nil // the instance must not keep the request alive
	if err != nil {
		class := r.classify(inst, err)
		r.discard(inst)
		return Result{}, r.fail(class, err)
	}
	if st.inputErr != nil && st.violation == nil {
		// Not the guest's fault: it only got an empty input.
		r.pool.release(inst)
		return Result{}, r.fail(ClassInput, st.inputErr)
	}
	res, err := r.result(st, int32(inst.stack[0]))
	if err != nil {
		r.discard(inst)
		return Result{}, r.fail(ClassABI, err)
	}
	r.pool.release(inst)
	r.stats.count(res.Effect)
	return res, nil
}

// result validates what the guest returned and set.
func (r *Rule) result(st *callState, code int32) (Result, error) {
	if st.violation != nil {
		return Result{}, st.violation
	}
	if st.oversized > 0 {
		return Result{}, abiError("result of %d bytes is over the %d-byte limit", st.oversized, r.limits.MaxResult)
	}
	var res Result
	if st.parsed != nil && code == st.parsedCode && bytes.Equal(st.result, st.parsedRaw) {
		res = *st.parsed
	} else {
		var err error
		if res, err = ParseResult(code, st.result); err != nil {
			return Result{}, err
		}
		st.parsedCode, st.parsedRaw, st.parsed = code, append(st.parsedRaw[:0], st.result...), &res
	}
	if res.Effect == pipeline.Allow {
		if err := r.obligations.permit(&res.Obligations); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}

// classify names a failed call: stopped at the deadline, trapped with its
// memory at the limit, or another trap.
func (r *Rule) classify(in *instance, err error) Class {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded, sys.ExitCodeContextCanceled:
			return ClassTimeout
		}
	}
	if mem := in.mod.Memory(); mem != nil {
		limit := r.limits.MemoryPages
		if m, ok := mem.Definition().Max(); ok && m < limit {
			limit = m
		}
		// Toolchains stop a little short of the limit (Go grows in
		// chunks), so a trap within 10% of it counts as exhaustion.
		if uint64(mem.Size()) >= uint64(limit)*PageSize*9/10 {
			return ClassMemory
		}
	}
	return ClassTrap
}

// discard throws a failed instance away; the pool replaces it in the
// background. A failed guest is never reused: a Go guest that panicked is
// dead, and any guest may have left its memory inconsistent.
func (r *Rule) discard(in *instance) {
	r.stats.discarded.Add(1)
	r.pool.discard(in)
}

func (r *Rule) fail(class Class, err error) error {
	r.stats.failed(class)
	return &EvalError{Rule: r.name, Class: class, Err: err}
}

// Close waits for evaluations in flight, then closes the instances and the
// runtime. It is safe after a failed NewRule and more than once.
func (r *Rule) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.pool != nil {
		r.pool.close()
	}
	if r.runtime != nil {
		return r.runtime.Close(context.Background())
	}
	return nil
}
