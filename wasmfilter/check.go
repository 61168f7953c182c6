package wasmfilter

import (
	"fmt"
	"slices"

	"github.com/tetratelabs/wazero/api"
)

// wasiAllowed are the WASI preview 1 functions a rule may import: what Go's
// wasip1 runtime needs to start, write to stdout/stderr, read clocks and
// random bytes, and yield. The instance gets no preopened directories, no
// environment and no arguments. Files (path_*, fd_read, fd_seek…) and
// sockets (sock_*) are refused at load, so a rule cannot even ask.
var wasiAllowed = []string{
	"args_get", "args_sizes_get", "environ_get", "environ_sizes_get",
	"clock_res_get", "clock_time_get", "random_get", "sched_yield", "poll_oneoff", "proc_exit",
	"fd_write", "fd_close", "fd_fdstat_get", "fd_fdstat_set_flags", "fd_prestat_get", "fd_prestat_dir_name",
}

// export is a required or optional guest export and its signature.
type export struct {
	name            string
	params, results []api.ValueType
	required        bool
}

var exports = []export{
	{ExportABIMarker, nil, nil, true},
	{ExportEvaluate, nil, []api.ValueType{i32}, true},
	{ExportConfigure, nil, []api.ValueType{i32}, false},
	{ExportInitialize, nil, nil, false},
}

// checkModule enforces ABI v1 on the compiled guest: the marker, the
// signatures of its exports, memory, no _start, and only allow-listed
// imports. It records which optional parts the guest has.
func (r *Rule) checkModule() error {
	cm := r.compiled
	fns := cm.ExportedFunctions()
	if _, ok := fns[ExportStart]; ok {
		return fmt.Errorf("exports %s, so it is a WASI command: build a reactor (Go: -buildmode=c-shared): %w", ExportStart, ErrABIViolation)
	}
	for _, e := range exports {
		f, ok := fns[e.name]
		if !ok {
			if e.required {
				return fmt.Errorf("does not export %s: %w", e.name, ErrABIViolation)
			}
			continue
		}
		if !slices.Equal(f.ParamTypes(), e.params) || !slices.Equal(f.ResultTypes(), e.results) {
			return fmt.Errorf("export %s has signature %s, want %s: %w",
				e.name, signature(f.ParamTypes(), f.ResultTypes()), signature(e.params, e.results), ErrABIViolation)
		}
		switch e.name {
		case ExportConfigure:
			r.hasConfigure = true
		case ExportInitialize:
			r.hasInitialize = true
		}
	}
	if _, ok := cm.ExportedMemories()[ExportMemory]; !ok {
		return fmt.Errorf("does not export its memory as %q: %w", ExportMemory, ErrABIViolation)
	}
	if ms := cm.ImportedMemories(); len(ms) > 0 {
		mod, name, _ := ms[0].Import()
		return fmt.Errorf("imports memory %s.%s; a rule must define its own: %w", mod, name, ErrABIViolation)
	}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case ImportModule:
			h, ok := hostFuncs[name]
			if !ok {
				return fmt.Errorf("imports %s.%s, which ABI v1 does not have: %w", mod, name, ErrABIViolation)
			}
			if !slices.Equal(f.ParamTypes(), h.params) || !slices.Equal(f.ResultTypes(), h.results) {
				return fmt.Errorf("imports %s.%s with signature %s, want %s: %w", mod, name,
					signature(f.ParamTypes(), f.ResultTypes()), signature(h.params, h.results), ErrABIViolation)
			}
		case ModuleWASI:
			if !slices.Contains(wasiAllowed, name) {
				return fmt.Errorf("imports %s.%s; rules get no files, sockets or environment: %w", mod, name, ErrABIViolation)
			}
			r.wasi = true
		default:
			return fmt.Errorf("imports %s.%s; a rule may import only %s and allowed %s functions: %w",
				mod, name, ImportModule, ModuleWASI, ErrABIViolation)
		}
	}
	return nil
}

func signature(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) []string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return s
	}
	return fmt.Sprintf("%v -> %v", names(params), names(results))
}
