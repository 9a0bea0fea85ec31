//! Measurement results and their rendering as a markdown table or JSON.

use crate::workload::Workload;

/// What one engine did on one workload.
pub enum Outcome {
    /// The engine has no implementation of this workload (or is a stub): "n/a".
    NotAvailable,
    /// Wall-clock time of each timed run, in milliseconds, in run order.
    Measured(Vec<f64>),
}

impl Outcome {
    /// Median of the runs (mean of the two middle runs for an even count).
    pub fn median_ms(&self) -> Option<f64> {
        let Outcome::Measured(runs) = self else {
            return None;
        };
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        match sorted.len() {
            0 => None,
            len if len % 2 == 1 => Some(sorted[mid]),
            _ => Some((sorted[mid - 1] + sorted[mid]) / 2.0),
        }
    }
}

/// One workload: its size, expected answer and one outcome per engine (column order).
pub struct Row {
    /// The workload.
    pub workload: Workload,
    /// Problem size used.
    pub n: i64,
    /// The answer every engine returned (checked against the Rust reference).
    pub expected: i64,
    /// `(engine name, outcome)`, in column order.
    pub cells: Vec<(&'static str, Outcome)>,
}

impl Row {
    fn median(&self, engine: &str) -> Option<f64> {
        self.cells
            .iter()
            .find(|(name, _)| *name == engine)?
            .1
            .median_ms()
    }

    /// `engine time / baseline time`, if both were measured.
    pub fn ratio(&self, engine: &str, baseline: &str) -> Option<f64> {
        Some(self.median(engine)? / self.median(baseline)?)
    }
}

/// A complete benchmark run.
pub struct Report {
    /// Repetitions per engine and workload.
    pub reps: usize,
    /// Whether the small `--quick` sizes were used.
    pub quick: bool,
    /// Engine the ratios are computed against, if it was selected.
    pub baseline: Option<&'static str>,
    /// CPU model, if known.
    pub cpu: Option<String>,
    /// `(name, description)` of each engine, in column order.
    pub engines: Vec<(&'static str, &'static str)>,
    /// One row per workload.
    pub rows: Vec<Row>,
}

impl Report {
    fn peers(&self) -> Vec<&'static str> {
        let base = self.baseline;
        self.engines
            .iter()
            .map(|e| e.0)
            .filter(|&name| Some(name) != base)
            .collect()
    }

    /// Renders the report as markdown, ready to paste into BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let sizes = if self.quick {
            "`--quick` sizes"
        } else {
            "full sizes"
        };
        out += &format!(
            "Median run time in ms over {} repetition(s), {sizes}; parse/compile/instantiate \
             are not timed.",
            self.reps
        );
        if let Some(base) = self.baseline {
            out += &format!(" Ratio = peer time / {base} time (> 1: {base} is faster).");
        }
        if let Some(cpu) = &self.cpu {
            out += &format!(" CPU: {cpu}.");
        }
        out += "\n\n";

        let mut header = vec![
            "workload".to_string(),
            "n".to_string(),
            "answer".to_string(),
        ];
        header.extend(self.engines.iter().map(|e| format!("{} (ms)", e.0)));
        if let Some(base) = self.baseline {
            header.extend(self.peers().iter().map(|p| format!("{p} / {base}")));
        }
        out += &format!("| {} |\n", header.join(" | "));
        let align: Vec<&str> = header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---" } else { "---:" })
            .collect();
        out += &format!("| {} |\n", align.join(" | "));

        for row in &self.rows {
            let mut cells = vec![
                row.workload.name().to_string(),
                fmt_int(row.n),
                row.expected.to_string(),
            ];
            cells.extend(
                row.cells
                    .iter()
                    .map(|(_, o)| o.median_ms().map_or("n/a".into(), fmt_ms)),
            );
            if let Some(base) = self.baseline {
                cells.extend(self.peers().iter().map(|p| {
                    row.ratio(p, base)
                        .map_or("n/a".into(), |r| format!("{r:.2}"))
                }));
            }
            out += &format!("| {} |\n", cells.join(" | "));
        }
        out += "\nEngines: ";
        let descriptions: Vec<String> = self
            .engines
            .iter()
            .map(|(n, d)| format!("`{n}` = {d}"))
            .collect();
        out += &descriptions.join("; ");
        out += ".\n";
        out
    }

    /// Renders the report as a JSON object (all times in milliseconds; `null` = n/a).
    pub fn json(&self) -> String {
        let opt = |v: Option<f64>| v.map_or("null".to_string(), |v| format!("{v:.4}"));
        let mut out = String::from("{\n");
        out += &format!("  \"reps\": {},\n  \"quick\": {},\n", self.reps, self.quick);
        out += &format!(
            "  \"baseline\": {},\n",
            self.baseline.map_or("null".into(), json_str)
        );
        out += &format!(
            "  \"cpu\": {},\n",
            self.cpu.as_deref().map_or("null".into(), json_str)
        );
        let engines: Vec<String> = self
            .engines
            .iter()
            .map(|(n, d)| {
                format!(
                    "{{\"name\": {}, \"description\": {}}}",
                    json_str(n),
                    json_str(d)
                )
            })
            .collect();
        out += &format!(
            "  \"engines\": [{}],\n  \"results\": [\n",
            engines.join(", ")
        );
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|row| {
                let cells: Vec<String> = row
                    .cells
                    .iter()
                    .map(|(name, outcome)| {
                        let body = match outcome {
                            Outcome::NotAvailable => "null".to_string(),
                            Outcome::Measured(runs) => {
                                let runs: Vec<String> = runs.iter().map(|r| format!("{r:.4}")).collect();
                                let ratio = self.baseline.and_then(|b| row.ratio(name, b));
                                format!(
                                    "{{\"median_ms\": {}, \"runs_ms\": [{}], \"ratio\": {}}}",
                                    opt(outcome.median_ms()),
                                    runs.join(", "),
                                    opt(ratio)
                                )
                            }
                        };
                        format!("        {}: {body}", json_str(name))
                    })
                    .collect();
                format!(
                    "    {{\"workload\": {}, \"n\": {}, \"expected\": {}, \"engines\": {{\n{}\n    }}}}",
                    json_str(row.workload.name()),
                    row.n,
                    row.expected,
                    cells.join(",\n")
                )
            })
            .collect();
        out += &rows.join(",\n");
        out += "\n  ]\n}\n";
        out
    }
}

/// Milliseconds with about three significant digits.
fn fmt_ms(ms: f64) -> String {
    match ms {
        ms if ms >= 100.0 => format!("{ms:.0}"),
        ms if ms >= 1.0 => format!("{ms:.1}"),
        ms => format!("{ms:.3}"),
    }
}

/// An integer with `_` between groups of three digits (`20_000_000`).
fn fmt_int(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::from(if n < 0 { "-" } else { "" });
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('_');
        }
        out.push(c);
    }
    out
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            c if (c as u32) < 0x20 => out += &format!("\\u{:04x}", c as u32),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
