//! A deterministic host for generated programs: it answers capability calls
//! from the program's script and checks what the VM hands it.

use crate::program::Answer;
use chronicle_core::module::Import;
use chronicle_core::types::Type;
use chronicle_core::value::Array;
use chronicle_core::vm::{CapabilityError, Host};
use chronicle_core::Value;
use std::rc::Rc;

/// Answers call number `k` with `answers[k % answers.len()]` and records
/// every call. Oracle: the VM passes exactly the import's arity and
/// parameter types, and never calls again after a wrongly typed answer
/// (which must have stopped the run with a capability error).
pub struct ScriptedHost<'p> {
    imports: &'p [Import],
    answers: &'p [Answer],
    /// Every call, in order: the import and its arguments.
    pub calls: Vec<(u16, Vec<Value>)>,
    /// Whether the host has returned a value of the wrong type.
    pub gave_wrong_type: bool,
}

impl<'p> ScriptedHost<'p> {
    /// A host for a module with these imports.
    pub fn new(imports: &'p [Import], answers: &'p [Answer]) -> Self {
        ScriptedHost {
            imports,
            answers,
            calls: Vec::new(),
            gave_wrong_type: false,
        }
    }
}

impl Host for ScriptedHost<'_> {
    fn call(&mut self, import: u16, args: &[Value]) -> Result<Value, CapabilityError> {
        let imp = self
            .imports
            .get(usize::from(import))
            .unwrap_or_else(|| panic!("the VM called import c{import}, which does not exist"));
        assert!(
            !self.gave_wrong_type,
            "the VM went on after a wrongly typed capability result"
        );
        assert_eq!(
            args.len(),
            imp.sig.params.len(),
            "arity of a call to {}",
            imp.name
        );
        for (i, (arg, ty)) in args.iter().zip(&imp.sig.params).enumerate() {
            assert!(
                arg.has_type(Some(ty)),
                "argument {i} of {} is {arg:?}, not a {ty}",
                imp.name
            );
        }
        self.calls.push((import, args.to_vec()));
        if self.answers.is_empty() {
            return Err(CapabilityError::new("the fuzz host has no answer"));
        }
        match self.answers[(self.calls.len() - 1) % self.answers.len()] {
            Answer::Fail => Err(CapabilityError::new("the fuzz host fails this call")),
            Answer::Value(seed) => Ok(value_of(imp.sig.ret.as_ref(), &mut Rng(seed))),
            Answer::WrongType(seed) => {
                self.gave_wrong_type = true;
                Ok(wrong_value(imp.sig.ret.as_ref(), &mut Rng(seed)))
            }
        }
    }
}

/// A small deterministic random source (SplitMix64).
pub struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const INTS: &[i64] = &[0, 1, -1, 3, i64::MAX, i64::MIN];
const STRS: &[&str] = &["", "a", "x,y", "é😀", "42", "-1", "line\nline"];

/// A value of type `ty` (`None`: unit), in any representation a host may
/// build: through [`Value::array`], or as a plain list of values (even for
/// `[int]` and `[bool]`), which the VM must normalise.
pub fn value_of(ty: Option<&Type>, rng: &mut Rng) -> Value {
    match ty {
        None => Value::Unit,
        Some(Type::Int) => match rng.below(3) {
            0 => Value::Int(rng.next() as i64),
            _ => Value::Int(INTS[rng.below(INTS.len() as u64) as usize]),
        },
        Some(Type::Bool) => Value::Bool(rng.below(2) == 1),
        Some(Type::Str) => Value::str(STRS[rng.below(STRS.len() as u64) as usize]),
        Some(Type::Array(elem)) => {
            let items: Vec<Value> = (0..rng.below(4))
                .map(|_| value_of(Some(elem), rng))
                .collect();
            if rng.below(2) == 0 {
                Value::array(items)
            } else {
                Value::Array(Rc::new(Array::Ref(items)))
            }
        }
    }
}

/// A value that does not have type `ty`.
pub fn wrong_value(ty: Option<&Type>, rng: &mut Rng) -> Value {
    let v = match ty {
        None => Value::Int(0),
        Some(Type::Int) => Value::Bool(true),
        Some(Type::Bool) => Value::Int(1),
        Some(Type::Str) if rng.below(2) == 0 => Value::Unit,
        Some(Type::Str) => Value::Array(Rc::new(Array::Int(vec![1]))),
        Some(Type::Array(elem)) => match rng.below(4) {
            0 => Value::str("not an array"),
            1 => Value::Array(Rc::new(Array::Ref(vec![wrong_value(Some(elem), rng)]))),
            2 if **elem != Type::Int => Value::Array(Rc::new(Array::Int(vec![7]))),
            _ if **elem != Type::Bool => Value::Array(Rc::new(Array::Bool(vec![true]))),
            _ => Value::Unit,
        },
    };
    debug_assert!(!v.has_type(ty), "{v:?} has type {ty:?}");
    v
}
