-- strings: append the decimal string of every i in 0..n, return the byte length.
-- Idiomatic Lua: collect the pieces in a table and join them once.
return function(n)
  local parts = {}
  for i = 0, n - 1 do parts[i + 1] = tostring(i) end
  return #table.concat(parts)
end
