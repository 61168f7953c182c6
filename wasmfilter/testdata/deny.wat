;; Denies every request and sets no result: the default status and code.
(module
  (memory (export "memory") 1)
  (func (export "healthgate_rule_abi_v1"))
  (func (export "evaluate") (result i32) (i32.const 0))
)
