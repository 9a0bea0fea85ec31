//! Loading a plugin from bytes: decode, then verify, in one step.

use crate::format::{self, DecodeError};
use crate::verify::{verify, VerifiedModule, VerifyError};
use thiserror::Error;

/// Why bytes are not a runnable module.
///
/// ```
/// use chronicle_core::{load, LoadError};
///
/// match load(&[0u8; 4]) {
///     Err(LoadError::Decode(e)) => assert!(e.to_string().contains("at byte")),
///     other => panic!("expected a decode error, got {other:?}"),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LoadError {
    /// Not a well-formed `.cbc` module.
    #[error("cannot decode the module: {0}")]
    Decode(#[from] DecodeError),
    /// A well-formed module that breaks a verifier rule.
    #[error("the module does not verify: {0}")]
    Verify(#[from] VerifyError),
}

/// Decodes a binary module (the bytes of a `.cbc` file) and verifies it.
///
/// ```
/// use chronicle_core::{format, load, LoadError, Module};
///
/// let bytes = format::encode(&Module::default());
/// // A module without functions decodes but has no entry function to run.
/// assert!(matches!(load(&bytes), Err(LoadError::Verify(_))));
/// assert!(matches!(load(b"not a module"), Err(LoadError::Decode(_))));
/// ```
pub fn load(bytes: &[u8]) -> Result<VerifiedModule, LoadError> {
    Ok(verify(format::decode(bytes)?)?)
}
