;; Lacks the ABI marker healthgate_rule_abi_v1.
(module
  (memory (export "memory") 1)
  (func (export "evaluate") (result i32) (i32.const 1)))
