-- strings (naive): `s = s .. i` in a loop. Quadratic in Lua (every `..` copies
-- the whole string), so only run with `--lua-naive`.
return function(n)
  local s = ""
  for i = 0, n - 1 do s = s .. i end
  return #s
end
