;; Does not export its memory.
(module
  (memory 1)
  (func (export "healthgate_rule_abi_v1"))
  (func (export "evaluate") (result i32) (i32.const 1)))
