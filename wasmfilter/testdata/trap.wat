;; Traps (unreachable) when failing.
(module
  (import "healthgate" "get_attr" (func $get_attr (param i32 i32 i32 i32) (result i64)))
  (import "healthgate" "set_result" (func $set_result (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "claims.fail")
  (func (export "healthgate_rule_abi_v1"))
  ;; $failing: 1 when the request carries the claim "fail".
  (func $failing (result i32)
    (i64.ne (i64.const 0) (i64.shr_u (call $get_attr (i32.const 0) (i32.const 11) (i32.const 4096) (i32.const 1024)) (i64.const 32))))
  (func (export "evaluate") (result i32)
    (if (call $failing) (then unreachable))
    (i32.const 1))
)
