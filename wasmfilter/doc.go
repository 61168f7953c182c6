// Package wasmfilter runs healthgate's site rules: WebAssembly modules that
// decide over the verified security context of a request, in a wazero
// sandbox, with limits that fail closed.
//
// A rule speaks ABI v1 (abi.go): it exports evaluate() -> i32 (deny 0,
// allow 1, abstain 2) and the marker healthgate_rule_abi_v1, and pulls what
// it needs through host functions of the module "healthgate": attributes of
// the context (get_attr) or all of it as JSON (get_input), its config, the
// request's time, logging, and set_result for a reason, a deny status and
// obligations. The guest exposes no allocator.
//
// A Host holds the compilation cache; Host.NewRule compiles a module,
// checks its exports and imports, and keeps a bounded pool of instances.
// Rule.Evaluate is safe for concurrent use and never allows on failure: a
// trap, a timeout, memory exhaustion, an ABI violation or a result that
// contradicts the return code is an *EvalError, and the instance is
// discarded. A Set evaluates rules in order as a pipeline.Policy,
// deny-overrides. RATIONALE.md says why it is built this way.
//
// The package does not import Caddy; caddymodule's healthgate.policies.rule
// adapts it. Guests are written with sdk/go/rule or in WAT (examples/).
package wasmfilter
