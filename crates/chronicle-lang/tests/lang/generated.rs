//! Random well-typed programs from `common::gen` pass the checker and run to
//! a value or a runtime error on the reference evaluator, within budget.

use std::collections::BTreeMap;

use chronicle_core::testing::proptest_cases;
use proptest::prelude::*;

use crate::common::reference::{Limit, Limits, RuntimeError};
use crate::common::{gen, run_source, Outcome, ScriptHost};

/// Runs the program of `seed`; `Err` explains a property violation.
fn run_seed(seed: u64) -> Result<Outcome, String> {
    let src = gen::program(seed);
    let outcome = run_source(
        "gen.chr",
        &src,
        &mut ScriptHost::default(),
        Limits::default(),
    );
    match &outcome {
        Outcome::CompileError(text) => Err(format!("seed {seed} does not check:\n{src}\n{text}")),
        Outcome::RuntimeError(RuntimeError::LimitExceeded(
            limit @ (Limit::Instructions | Limit::CallDepth),
        )) => Err(format!("seed {seed} hit the {limit:?} limit:\n{src}")),
        _ => Ok(outcome),
    }
}

// 256 cases; `CHRONICLE_PROPTEST_SCALE=20` for a longer hunt (5120).
proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(256)))]

    #[test]
    fn generated_programs_check_and_terminate(seed in any::<u64>()) {
        if let Err(message) = run_seed(seed) {
            prop_assert!(false, "{}", message);
        }
    }
}

/// The generator is only useful if it reaches values and many error kinds.
#[test]
fn generated_outcomes_are_varied() {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 0..300 {
        let outcome = run_seed(seed).unwrap_or_else(|e| panic!("{e}"));
        let kind = match outcome {
            Outcome::Value(_) => "value".to_owned(),
            Outcome::RuntimeError(RuntimeError::AssertionFailed(_)) => {
                "assertion failed".to_owned()
            }
            Outcome::RuntimeError(e) => e.to_string(),
            Outcome::CompileError(_) => unreachable!(),
        };
        *kinds.entry(kind).or_default() += 1;
    }
    println!("{kinds:#?}");
    assert!(kinds.get("value").copied().unwrap_or(0) >= 90, "{kinds:#?}");
    for kind in ["integer overflow", "division by zero", "index out of range"] {
        assert!(
            kinds.contains_key(kind),
            "no generated program ends in `{kind}`: {kinds:#?}"
        );
    }
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(gen::program(7), gen::program(7));
    assert_ne!(gen::program(7), gen::program(8));
}
