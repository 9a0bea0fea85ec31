-- loop: sum of (i*i) % 7 for i in 0..n (Lua 5.4 integers are 64-bit).
return function(n)
  local sum = 0
  for i = 0, n - 1 do
    sum = sum + (i * i) % 7
  end
  return sum
end
