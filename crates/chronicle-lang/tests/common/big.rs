//! A generator of large, realistic, terminating `.chr` programs for
//! compile-time measurements (`examples/compile_bench.rs`) and tests.
//!
//! Each function is about fifty lines using every construct (loops of all
//! kinds, strings, arrays, nested element updates, builtins, calls); calls
//! only go to earlier functions, in chains of at most ten.

/// A program of at least `lines` lines.
pub fn program(lines: usize) -> String {
    let mut out = String::new();
    let mut k = 0;
    while out.lines().count() + 2 * k + 4 < lines {
        function(&mut out, k);
        k += 1;
    }
    out.push_str("fn main() -> int {\n    let sum = 0;\n");
    for i in 0..k {
        out.push_str(&format!(
            "    sum = (sum + f{i}({i}, 2, \"x\")) % 1000000007;\n"
        ));
        out.push_str(&format!("    assert(sum >= 0, \"sum after f{i}\");\n"));
    }
    out.push_str("    return sum;\n}\n");
    out
}

fn function(out: &mut String, k: usize) {
    let m = k % 7 + 1;
    let call = if k % 10 == 0 {
        String::new()
    } else {
        format!("    total = total + f{}(b, a % 7, piece);\n", k - 1)
    };
    out.push_str(&format!(
        r#"// Function {k}.
fn f{k}(a: int, b: int, s: str) -> int {{
    let total = a + {k};
    let text = s + "{k}";
    let xs: [int] = [];
    for i in 0..8 {{
        push(xs, i * {m} + b);
        if i % 3 == 0 {{
            total = total + i;
        }} else if i % 3 == 1 {{
            total = total - 1;
        }} else {{
            total = total + len(text);
        }}
    }}
    let j = 0;
    while j < len(xs) {{
        total = total + xs[j] % 5;
        j = j + 1;
    }}
    let words = split("a,b,c,{k}", ",");
    for w in words {{
        if contains(w, "b") || w == "{k}" {{
            total = total + 2;
        }}
        text = text + w;
    }}
    let flags = [true, false, total > 10];
    let count = 0;
    for f in flags {{
        if f && !(count > 5) {{
            count = count + 1;
        }}
    }}
    let grid = [[1, 2], [3, 4]];
    grid[1][0] = total % 100;
    push(grid[0], count);
    total = total + grid[1][0] + len(grid[0]);
    let parsed = parse_int(str({k} * 3));
    total = total + parsed / 3;
    let piece = substr(text, 0, 1);
    if piece != "" {{
        total = total + 1;
    }}
    let last = pop(xs);
    total = total + last - len(xs) * 2;
    assert(total > -1000000, "total in range");
{call}    return total % 1000003;
}}

"#
    ));
}
