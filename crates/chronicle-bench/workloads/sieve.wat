;; sieve: count primes below n with a sieve of Eratosthenes.
;; The boolean array is linear memory: byte k is 1 while k is still considered prime.
;; Entry point: `run(n: i64) -> i64` (n must fit in the 32-bit address space).
(module
  (memory 1)

  (func (export "run") (param $n i64) (result i64)
    (local $len i32)
    (local $i i32)
    (local $j i32)
    (local $count i64)
    (local.set $len (i32.wrap_i64 (local.get $n)))

    ;; Grow memory to hold `len` bytes (trap if the host refuses).
    (if (i32.gt_u (local.get $len) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq
              (memory.grow
                (i32.sub
                  (i32.div_u (i32.add (local.get $len) (i32.const 65535)) (i32.const 65536))
                  (memory.size)))
              (i32.const -1))
          (then (unreachable)))))

    ;; is_prime[0..len] = true
    (memory.fill (i32.const 0) (i32.const 1) (local.get $len))

    ;; for i = 2; i*i < len; i++: if is_prime[i], clear i*i, i*i+i, ...
    (local.set $i (i32.const 2))
    (block $outer_done
      (loop $outer
        (br_if $outer_done
          (i32.ge_u (i32.mul (local.get $i) (local.get $i)) (local.get $len)))
        (if (i32.load8_u (local.get $i))
          (then
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (block $inner_done
              (loop $inner
                (br_if $inner_done (i32.ge_u (local.get $j) (local.get $len)))
                (i32.store8 (local.get $j) (i32.const 0))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $inner)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))

    ;; count the survivors in 2..len
    (local.set $i (i32.const 2))
    (block $count_done
      (loop $count_next
        (br_if $count_done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $count
          (i64.add (local.get $count) (i64.extend_i32_u (i32.load8_u (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $count_next)))
    (local.get $count)))
