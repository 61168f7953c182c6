;; Imports a function from a module that is neither healthgate nor WASI.
(module
  (import "env" "fetch" (func $fetch (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "healthgate_rule_abi_v1"))
  (func (export "evaluate") (result i32) (i32.const 1)))
