package wasmfilter

import (
	"fmt"
	"runtime"
	"time"
)

// PageSize is the size of a WebAssembly memory page.
const PageSize = 65536

// Limits bound one rule. The zero value of each field means its default.
type Limits struct {
	// MemoryPages caps the linear memory of each instance, in 64 KiB
	// pages. Growing past it fails; a guest that then traps is refused
	// as ClassMemory. Default: 1024 (64 MiB), room for a Go guest, which
	// starts at 2.5 to 3.5 MiB and grows with what it allocates.
	MemoryPages uint32 `json:"memory_pages,omitempty"`
	// Timeout caps one evaluation. A guest still running is stopped,
	// refused as ClassTimeout and replaced. Default: 10ms.
	Timeout time.Duration `json:"timeout,omitempty"`
	// MaxInput caps the security context JSON, in bytes. Default: 64 KiB.
	MaxInput int `json:"max_input,omitempty"`
	// MaxResult caps the result a guest sets, in bytes. Default: 16 KiB.
	MaxResult int `json:"max_result,omitempty"`
	// MaxLog caps what one evaluation may log (log calls and WASI
	// stdout/stderr), in bytes; the rest is dropped. Default: 4 KiB.
	MaxLog int `json:"max_log,omitempty"`
	// MinInstances are instantiated when the rule loads and kept.
	// Default: 1.
	MinInstances int `json:"min_instances,omitempty"`
	// MaxInstances caps the instances, idle and busy: the rule's
	// concurrency and, times MemoryPages, its memory. Default: 2 ×
	// GOMAXPROCS.
	MaxInstances int `json:"max_instances,omitempty"`
	// AcquireTimeout is how long an evaluation waits for a free instance
	// before it is refused as ClassPool. Default: 50ms.
	AcquireTimeout time.Duration `json:"acquire_timeout,omitempty"`
}

// Upper bounds on limits: a configuration beyond them is a mistake.
const (
	maxMemoryPages = 65536 / 4 // 1 GiB
	// MaxModuleSize caps a rule's .wasm file, in bytes.
	MaxModuleSize = 32 << 20
)

// WithDefaults returns l with its zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if l.MemoryPages == 0 {
		l.MemoryPages = 1024
	}
	if l.Timeout == 0 {
		l.Timeout = 10 * time.Millisecond
	}
	if l.AcquireTimeout == 0 {
		l.AcquireTimeout = 50 * time.Millisecond
	}
	set(&l.MaxInput, 64<<10)
	set(&l.MaxResult, 16<<10)
	set(&l.MaxLog, 4<<10)
	set(&l.MinInstances, 1)
	set(&l.MaxInstances, 2*runtime.GOMAXPROCS(0))
	return l
}

// Validate reports a limit out of range, naming it.
func (l Limits) Validate() error {
	switch {
	case l.MemoryPages > maxMemoryPages:
		return fmt.Errorf("wasmfilter: memory of %d pages is over the %d-page (1 GiB) cap", l.MemoryPages, maxMemoryPages)
	case l.Timeout < 0 || l.AcquireTimeout < 0:
		return fmt.Errorf("wasmfilter: timeouts must be positive")
	case l.MaxInput < 0 || l.MaxResult < 0 || l.MaxLog < 0:
		return fmt.Errorf("wasmfilter: size limits must be positive")
	case l.MinInstances < 0 || l.MaxInstances < 0:
		return fmt.Errorf("wasmfilter: instance counts must be positive")
	case l.MaxInstances != 0 && l.MinInstances > l.MaxInstances:
		return fmt.Errorf("wasmfilter: min instances %d exceed max instances %d", l.MinInstances, l.MaxInstances)
	}
	return nil
}
