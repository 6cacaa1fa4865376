;; SIMD dot product of two i32 vectors of length n (a multiple of 4),
;; a[i] = i, b[i] = 2*i + 1, computed four lanes at a time.
(module
  (memory 1)
  (func (export "dot") (param $n i32) (result i32)
    (local $i i32) (local $acc v128) (local $pb i32)
    (local.set $pb (i32.shl (local.get $n) (i32.const 2)))
    (block $filled
      (loop $fill
        (br_if $filled (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.shl (local.get $i) (i32.const 2)) (local.get $i))
        (i32.store (i32.add (local.get $pb) (i32.shl (local.get $i) (i32.const 2)))
          (i32.add (i32.shl (local.get $i) (i32.const 1)) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i32x4.add (local.get $acc)
          (i32x4.mul
            (v128.load (i32.shl (local.get $i) (i32.const 2)))
            (v128.load (i32.add (local.get $pb) (i32.shl (local.get $i) (i32.const 2)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next)))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
      (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc))))))
