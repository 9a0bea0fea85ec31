;; loop: sum of (i*i) % 7 for i in 0..n, all in i64. Entry point: `run(n: i64) -> i64`.
(module
  (func (export "run") (param $n i64) (result i64)
    (local $i i64)
    (local $sum i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_s (local.get $i) (local.get $n)))
        (local.set $sum
          (i64.add (local.get $sum)
            (i64.rem_s (i64.mul (local.get $i) (local.get $i)) (i64.const 7))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $sum)))
