package wasmfilter

import (
	"errors"
	"fmt"
)

// Class names the kind of an evaluation failure, for logs and metrics. Every
// class refuses the request; none is ever an allow.
type Class string

const (
	// ClassTrap: the guest trapped (unreachable, out-of-bounds access, a Go
	// panic).
	ClassTrap Class = "trap"
	// ClassTimeout: the evaluation ran past its timeout and was stopped.
	ClassTimeout Class = "timeout"
	// ClassMemory: the guest trapped with its memory at the limit.
	ClassMemory Class = "memory"
	// ClassABI: the guest broke the ABI: an unknown return code, a result
	// that does not parse or contradicts the return code, a forbidden
	// obligation, a buffer outside its memory.
	ClassABI Class = "abi"
	// ClassPool: no instance became free within the acquire timeout.
	ClassPool Class = "pool"
	// ClassInput: the security context exceeds the input limit.
	ClassInput Class = "input"
	// ClassClosed: the rule was closed (a config reload finished).
	ClassClosed Class = "closed"
)

// Sentinel errors; an *EvalError wraps one of them or a runtime error.
var (
	ErrABIViolation  = errors.New("abi violation")
	ErrInputTooLarge = errors.New("security context too large")
	ErrPoolTimeout   = errors.New("no rule instance free within the acquire timeout")
	ErrClosed        = errors.New("rule closed")
)

// EvalError is a failed evaluation. The request is refused and, except for
// ClassPool, ClassInput and ClassClosed, the instance was discarded.
type EvalError struct {
	Rule  string
	Class Class
	Err   error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("wasmfilter: rule %q: %s: %v", e.Rule, e.Class, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

// abiError makes an ErrABIViolation with a message.
func abiError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrABIViolation}, args...)...)
}
