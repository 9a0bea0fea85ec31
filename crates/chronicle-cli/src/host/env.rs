//! `env.get@1(name: str) -> str`: an environment variable of the `chronicle`
//! process. An unset variable reads as `""` (the language has no optional
//! type, and a missing variable is an ordinary situation, not a failure); a
//! value that is not UTF-8 or a name that cannot be a variable's is a
//! capability error.
//!
//! A grant of `env.get` exposes the whole environment: grant it only to
//! plugins you would show your environment to, or mock it.

use chronicle_core::caps::Registry;
use chronicle_core::types::{Type, Version};
use chronicle_core::vm::CapabilityError;
use chronicle_core::Value;

/// Offers `env.get@1.0`.
pub fn register(registry: &mut Registry<'static>) {
    registry.register(
        "env.get",
        Version::new(1, 0),
        super::sig(&[Type::Str], Some(Type::Str)),
        |args| get(super::str_arg(args, 0)).map(Value::str),
    );
}

fn get(name: &str) -> Result<String, CapabilityError> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return Err(CapabilityError::new(format!(
            "{name:?} is not a valid environment variable name"
        )));
    }
    match std::env::var(name) {
        Ok(value) => Ok(value),
        Err(std::env::VarError::NotPresent) => Ok(String::new()),
        Err(std::env::VarError::NotUnicode(_)) => Err(CapabilityError::new(format!(
            "environment variable {name} is not UTF-8"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_unset_variables() {
        assert_eq!(super::get("CHRONICLE_SURELY_UNSET_VARIABLE").unwrap(), "");
        assert!(super::get("A=B").is_err());
        assert!(super::get("").is_err());
        assert!(super::get("PATH").is_ok());
    }
}
