;; fib: naive recursive Fibonacci on i64. Entry point: `run(n: i64) -> i64`.
(module
  (func $fib (param $n i64) (result i64)
    (if (result i64) (i64.lt_s (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else
        (i64.add
          (call $fib (i64.sub (local.get $n) (i64.const 1)))
          (call $fib (i64.sub (local.get $n) (i64.const 2)))))))

  (func (export "run") (param $n i64) (result i64)
    (call $fib (local.get $n))))
