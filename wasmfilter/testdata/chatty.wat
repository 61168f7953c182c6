;; Logs a 100-byte warning 100 times per evaluation, then allows: the log
;; limit must cut it off without failing the evaluation.
(module
  (import "healthgate" "log" (func $log (param i32 i32 i32)))
  (import "healthgate" "log_enabled" (func $log_enabled (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789")
  (func (export "healthgate_rule_abi_v1"))
  (func (export "evaluate") (result i32)
    (local $i i32)
    (if (i32.eqz (call $log_enabled (i32.const 1))) (then (return (i32.const 2))))
    (loop $more
      (call $log (i32.const 1) (i32.const 0) (i32.const 100))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 100))))
    (i32.const 1)))
