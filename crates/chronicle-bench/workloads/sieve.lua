-- sieve: count primes below n with a sieve of Eratosthenes over a table of booleans.
return function(n)
  local is_prime = {}
  for i = 1, n - 1 do is_prime[i] = true end
  local i = 2
  while i * i < n do
    if is_prime[i] then
      for j = i * i, n - 1, i do is_prime[j] = false end
    end
    i = i + 1
  end
  local count = 0
  for k = 2, n - 1 do
    if is_prime[k] then count = count + 1 end
  end
  return count
end
