;; evaluate takes a parameter and returns i64: not ABI v1's () -> i32.
(module
  (memory (export "memory") 1)
  (func (export "healthgate_rule_abi_v1"))
  (func (export "evaluate") (param i32) (result i64) (i64.const 1)))
