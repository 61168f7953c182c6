;; A WASI command: exports _start, which the host refuses.
(module
  (memory (export "memory") 1)
  (func (export "healthgate_rule_abi_v1"))
  (func (export "_start"))
  (func (export "evaluate") (result i32) (i32.const 1)))
