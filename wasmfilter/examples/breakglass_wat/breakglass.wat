;; breakglass.wat: the break-the-glass rule of examples/breakglass, by hand,
;; for rule authors who want no toolchain and for the WAT benchmark.
;; Build: wat2wasm breakglass.wat -o breakglass.wasm
;;
;; override == "true" and a purpose of use in config.purpose_of_use (EMERG
;; if unset) -> allow; override without one -> deny 403; else abstain.
(module
  (import "healthgate" "get_attr" (func $get_attr (param i32 i32 i32 i32) (result i64)))
  (import "healthgate" "set_result" (func $set_result (param i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "override")
  (data (i32.const 16) "purpose_of_use")
  (data (i32.const 32) "config.purpose_of_use")
  (data (i32.const 64) "EMERG\00")
  (data (i32.const 128) "{\"decision\":\"allow\",\"reason\":\"break-the-glass with an accepted purpose of use\"}")
  (data (i32.const 384) "{\"decision\":\"deny\",\"status\":403,\"code\":\"purpose_of_use_required\",\"reason\":\"break-the-glass without an accepted purpose of use\"}")
  ;; Two 4 KiB buffers the host fills with NUL-terminated values.
  (global $A i32 (i32.const 1024))
  (global $B i32 (i32.const 8192))

  (func (export "healthgate_rule_abi_v1"))

  ;; $token_eq: 1 if the NUL-terminated tokens at $p and $q are equal.
  (func $token_eq (param $p i32) (param $q i32) (result i32)
    (local $c i32)
    (loop $next
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.ne (local.get $c) (i32.load8_u (local.get $q))) (then (return (i32.const 0))))
      (if (i32.eqz (local.get $c)) (then (return (i32.const 1))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (local.set $q (i32.add (local.get $q) (i32.const 1)))
      (br $next))
    (i32.const 0))

  ;; $skip: the address after the NUL that ends the token at $p.
  (func $skip (param $p i32) (result i32)
    (loop $l
      (if (i32.load8_u (local.get $p))
        (then (local.set $p (i32.add (local.get $p) (i32.const 1))) (br $l))))
    (i32.add (local.get $p) (i32.const 1)))

  ;; $any: 1 if a token of [$a, $a+$alen) equals a token of [$b, $b+$blen).
  (func $any (param $a i32) (param $alen i32) (param $b i32) (param $blen i32) (result i32)
    (local $aend i32) (local $bend i32) (local $q i32)
    (local.set $aend (i32.add (local.get $a) (local.get $alen)))
    (local.set $bend (i32.add (local.get $b) (local.get $blen)))
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $a) (local.get $aend)))
        (local.set $q (local.get $b))
        (block $inner_done
          (loop $inner
            (br_if $inner_done (i32.ge_u (local.get $q) (local.get $bend)))
            (if (call $token_eq (local.get $a) (local.get $q)) (then (return (i32.const 1))))
            (local.set $q (call $skip (local.get $q)))
            (br $inner)))
        (local.set $a (call $skip (local.get $a)))
        (br $outer)))
    (i32.const 0))

  (func (export "evaluate") (result i32)
    (local $r i64) (local $plen i32) (local $cptr i32) (local $clen i32)
    ;; Abstain unless override is exactly "true\0" ("true" is 0x65757274 little-endian).
    (local.set $r (call $get_attr (i32.const 0) (i32.const 8) (global.get $A) (i32.const 4096)))
    (if (i64.eqz (i64.shr_u (local.get $r) (i64.const 32))) (then (return (i32.const 2))))
    (if (i32.ne (i32.wrap_i64 (local.get $r)) (i32.const 5)) (then (return (i32.const 2))))
    (if (i32.ne (i32.load (global.get $A)) (i32.const 0x65757274)) (then (return (i32.const 2))))
    ;; The request's purposes of use; more than fit count as none.
    (local.set $r (call $get_attr (i32.const 16) (i32.const 14) (global.get $A) (i32.const 4096)))
    (local.set $plen (i32.wrap_i64 (local.get $r)))
    (if (i32.gt_u (local.get $plen) (i32.const 4096)) (then (local.set $plen (i32.const 0))))
    ;; The accepted ones: the config's, else EMERG.
    (local.set $r (call $get_attr (i32.const 32) (i32.const 21) (global.get $B) (i32.const 4096)))
    (local.set $cptr (global.get $B))
    (local.set $clen (i32.wrap_i64 (local.get $r)))
    (if (i64.eqz (i64.shr_u (local.get $r) (i64.const 32)))
      (then (local.set $cptr (i32.const 64)) (local.set $clen (i32.const 6))))
    (if (i32.gt_u (local.get $clen) (i32.const 4096)) (then (local.set $clen (i32.const 0))))
    (if (call $any (global.get $A) (local.get $plen) (local.get $cptr) (local.get $clen))
      (then
        (drop (call $set_result (i32.const 128) (i32.const 79)))
        (return (i32.const 1))))
    (drop (call $set_result (i32.const 384) (i32.const 127)))
    (i32.const 0))
)
