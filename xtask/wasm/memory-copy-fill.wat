;; Word-at-a-time replacements for the byte loops binaryen's
;; `--llvm-memory-copy-fill-lowering` generates for `memory.copy` and
;; `memory.fill` (see `lower_bulk_memory` in xtask/src/plugin.rs). Each function
;; keeps the instruction's semantics: it traps before writing anything when a
;; range is out of bounds (also when its end wraps past 2^32, which binaryen's
;; own helpers miss), and a copy between overlapping ranges copies as if
;; through a temporary buffer. The copy goes forward when the destination is
;; below the source and backward otherwise, so every 8-byte load happens
;; before a store can reach its bytes.
(module
 (memory (export "memory") 1)
 (func $copy (param $0 i32) (param $1 i32) (param $2 i32)
  (local $size i32)
  (local.set $size (i32.shl (memory.size) (i32.const 16)))
  (if (i32.or
        (i32.or
         (i32.gt_u (i32.add (local.get $0) (local.get $2)) (local.get $size))
         (i32.gt_u (i32.add (local.get $1) (local.get $2)) (local.get $size)))
        (i32.or
         (i32.lt_u (i32.add (local.get $0) (local.get $2)) (local.get $0))
         (i32.lt_u (i32.add (local.get $1) (local.get $2)) (local.get $1))))
   (then (unreachable)))
  (if (i32.le_u (local.get $0) (local.get $1))
   (then
    (block $done8
     (loop $words
      (br_if $done8 (i32.lt_u (local.get $2) (i32.const 8)))
      (i64.store align=1 (local.get $0) (i64.load align=1 (local.get $1)))
      (local.set $0 (i32.add (local.get $0) (i32.const 8)))
      (local.set $1 (i32.add (local.get $1) (i32.const 8)))
      (local.set $2 (i32.sub (local.get $2) (i32.const 8)))
      (br $words)))
    (block $done
     (loop $bytes
      (br_if $done (i32.eqz (local.get $2)))
      (i32.store8 (local.get $0) (i32.load8_u (local.get $1)))
      (local.set $0 (i32.add (local.get $0) (i32.const 1)))
      (local.set $1 (i32.add (local.get $1) (i32.const 1)))
      (local.set $2 (i32.sub (local.get $2) (i32.const 1)))
      (br $bytes))))
   (else
    (block $done8
     (loop $words
      (br_if $done8 (i32.lt_u (local.get $2) (i32.const 8)))
      (local.set $2 (i32.sub (local.get $2) (i32.const 8)))
      (i64.store align=1
       (i32.add (local.get $0) (local.get $2))
       (i64.load align=1 (i32.add (local.get $1) (local.get $2))))
      (br $words)))
    (block $done
     (loop $bytes
      (br_if $done (i32.eqz (local.get $2)))
      (local.set $2 (i32.sub (local.get $2) (i32.const 1)))
      (i32.store8
       (i32.add (local.get $0) (local.get $2))
       (i32.load8_u (i32.add (local.get $1) (local.get $2))))
      (br $bytes))))))
 (func $fill (param $0 i32) (param $1 i32) (param $2 i32)
  (local $word i64)
  (if (i32.or
        (i32.gt_u (i32.add (local.get $0) (local.get $2)) (i32.shl (memory.size) (i32.const 16)))
        (i32.lt_u (i32.add (local.get $0) (local.get $2)) (local.get $0)))
   (then (unreachable)))
  (local.set $word
   (i64.mul (i64.extend_i32_u (i32.and (local.get $1) (i32.const 255))) (i64.const 0x0101010101010101)))
  (block $done8
   (loop $words
    (br_if $done8 (i32.lt_u (local.get $2) (i32.const 8)))
    (i64.store align=1 (local.get $0) (local.get $word))
    (local.set $0 (i32.add (local.get $0) (i32.const 8)))
    (local.set $2 (i32.sub (local.get $2) (i32.const 8)))
    (br $words)))
  (block $done
   (loop $bytes
    (br_if $done (i32.eqz (local.get $2)))
    (i32.store8 (local.get $0) (local.get $1))
    (local.set $0 (i32.add (local.get $0) (i32.const 1)))
    (local.set $2 (i32.sub (local.get $2) (i32.const 1)))
    (br $bytes))))
 (export "copy" (func $copy))
 (export "fill" (func $fill)))
