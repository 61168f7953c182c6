package wasmfilter

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Host is what the rules of one process share: the compilation cache. Rules
// compiled through the same Host compile each distinct binary once.
type Host struct {
	cache wazero.CompilationCache
}

// NewHost returns a Host whose compilation cache lives in dir, or in memory
// if dir is "". The directory must be private to the process's user: wazero
// trusts what it finds there.
func NewHost(dir string) (*Host, error) {
	if dir == "" {
		return &Host{cache: wazero.NewCompilationCache()}, nil
	}
	c, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wasmfilter: opening compilation cache %s: %w", dir, err)
	}
	return &Host{cache: c}, nil
}

// Close releases the cache. Rules compiled through the Host keep working.
func (h *Host) Close(ctx context.Context) error { return h.cache.Close(ctx) }

// callState is what host functions know of the evaluation in progress. It
// travels in the context of the call (never in instance globals), and each
// instance reuses its own.
type callState struct {
	rule *Rule
	in   *Input
	// result is a copy of the last accepted set_result.
	result    []byte
	oversized int
	violation error
	inputErr  error
	logLeft   int
	scratch   []byte

	// parsed caches the last result parsed from the same code and bytes:
	// a rule tends to set one of a few constant results, and parsing is
	// most of an evaluation's cost on the host.
	parsedCode int32
	parsedRaw  []byte
	parsed     *Result
}

type stateKey struct{}

func stateOf(ctx context.Context) *callState {
	st, _ := ctx.Value(stateKey{}).(*callState)
	return st
}

func (st *callState) reset(in *Input) {
	st.in = in
	st.result = st.result[:0]
	st.oversized = 0
	st.violation = nil
	st.inputErr = nil
	st.logLeft = st.rule.limits.MaxLog
}

// violate records the first ABI violation of a call.
func (st *callState) violate(err error) {
	if st.violation == nil {
		st.violation = err
	}
}

// write copies b to guest memory at buf if it fits in limit. Writing outside
// the guest's memory is its ABI violation.
func (st *callState) write(mod api.Module, buf, limit uint32, b []byte) {
	if len(b) == 0 || uint32(len(b)) > limit {
		return
	}
	if !mod.Memory().Write(buf, b) {
		st.violate(abiError("buffer %d+%d is outside the guest's memory", buf, limit))
	}
}

// maxAttrKey bounds an attribute key; longer keys name nothing.
const maxAttrKey = 512

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// hostFunc is one host function: its signature and implementation.
type hostFunc struct {
	params, results []api.ValueType
	fn              func(st *callState, mod api.Module, stack []uint64)
}

// hostFuncs implements ABI v1's imports. A guest may import any subset; the
// signatures must match exactly.
var hostFuncs = map[string]hostFunc{
	FuncGetInput: {[]api.ValueType{i32, i32}, []api.ValueType{i32}, func(st *callState, mod api.Module, stack []uint64) {
		buf, limit := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
		stack[0] = 0
		if st.in == nil {
			return
		}
		b, err := st.in.jsonLimited(st.rule.limits.MaxInput)
		if err != nil {
			st.inputErr = err
			return
		}
		st.write(mod, buf, limit, b)
		stack[0] = api.EncodeU32(uint32(len(b)))
	}},
	FuncGetAttr: {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64}, func(st *callState, mod api.Module, stack []uint64) {
		key, keyLen := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
		buf, limit := api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
		stack[0] = 0
		if keyLen > maxAttrKey {
			return // no such attribute; and no host copy of a huge key
		}
		k, ok := mod.Memory().Read(key, keyLen)
		if !ok {
			st.violate(abiError("attribute key %d+%d is outside the guest's memory", key, keyLen))
			return
		}
		var count int
		if name, ok := strings.CutPrefix(string(k), "config."); ok {
			st.scratch, count = appendValues(st.scratch[:0], st.rule.config[name])
		} else if st.in != nil {
			st.scratch, count = st.in.AppendAttr(st.scratch[:0], string(k))
		}
		if count == 0 {
			return
		}
		st.write(mod, buf, limit, st.scratch)
		stack[0] = uint64(count)<<32 | uint64(len(st.scratch))
	}},
	FuncGetConfig: {[]api.ValueType{i32, i32}, []api.ValueType{i32}, func(st *callState, mod api.Module, stack []uint64) {
		buf, limit := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
		st.write(mod, buf, limit, st.rule.configJSON)
		stack[0] = api.EncodeU32(uint32(len(st.rule.configJSON)))
	}},
	FuncSetResult: {[]api.ValueType{i32, i32}, []api.ValueType{i32}, func(st *callState, mod api.Module, stack []uint64) {
		ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
		if int64(n) > int64(st.rule.limits.MaxResult) {
			st.oversized = int(n)
			stack[0] = 1
			return
		}
		b, ok := mod.Memory().Read(ptr, n)
		if !ok {
			st.violate(abiError("result %d+%d is outside the guest's memory", ptr, n))
			stack[0] = 1
			return
		}
		st.result = append(st.result[:0], b...)
		st.oversized = 0
		stack[0] = 0
	}},
	FuncLogEnabled: {[]api.ValueType{i32}, []api.ValueType{i32}, func(st *callState, _ api.Module, stack []uint64) {
		level, ok := zapLevel(api.DecodeI32(stack[0]))
		stack[0] = 0
		if ok && st.rule.logger.Core().Enabled(level) {
			stack[0] = 1
		}
	}},
	FuncLog: {[]api.ValueType{i32, i32, i32}, nil, func(st *callState, mod api.Module, stack []uint64) {
		level, ok := zapLevel(api.DecodeI32(stack[0]))
		if !ok {
			return
		}
		if b, ok := mod.Memory().Read(api.DecodeU32(stack[1]), api.DecodeU32(stack[2])); ok {
			st.log(level, b)
		}
	}},
	FuncNowUnixMilli: {nil, []api.ValueType{i64}, func(st *callState, _ api.Module, stack []uint64) {
		if st.in != nil {
			stack[0] = uint64(st.in.UnixMilli)
		} else {
			stack[0] = uint64(time.Now().UnixMilli())
		}
	}},
}

func appendValues(dst []byte, vs []string) ([]byte, int) {
	for _, v := range vs {
		dst = append(append(dst, v...), 0)
	}
	return dst, len(vs)
}

// log writes a guest message within the evaluation's budget; the rest is
// dropped, counted in the rule's stats.
func (st *callState) log(level zapcore.Level, b []byte) {
	if len(b) > st.logLeft {
		st.rule.stats.logDropped.Add(1)
		b = b[:max(st.logLeft, 0)]
	}
	st.logLeft -= len(b)
	if len(b) == 0 {
		return
	}
	if ce := st.rule.logger.Check(level, "rule log"); ce != nil {
		ce.Write(zap.ByteString("message", b))
	}
}

// zapLevel maps an ABI log level; LogNone and above log nothing.
func zapLevel(level int32) (zapcore.Level, bool) {
	switch {
	case level <= LogDebug:
		return zapcore.DebugLevel, true
	case level == LogInfo:
		return zapcore.InfoLevel, true
	case level == LogWarn:
		return zapcore.WarnLevel, true
	case level == LogError:
		return zapcore.ErrorLevel, true
	}
	return 0, false
}

// instantiateHostModule adds ImportModule to r.
func instantiateHostModule(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder(ImportModule)
	for name, f := range hostFuncs {
		fn := f.fn
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			if st := stateOf(ctx); st != nil {
				fn(st, mod, stack)
				return
			}
			// Called outside an evaluation: nothing to read.
			clear(stack)
		}), f.params, f.results).Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}
