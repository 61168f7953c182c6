;; Imports healthgate.get_attr with the wrong signature.
(module
  (import "healthgate" "get_attr" (func $get_attr (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "healthgate_rule_abi_v1"))
  (func (export "evaluate") (result i32) (i32.const 1)))
