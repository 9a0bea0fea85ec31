//! `clock.now@1() -> int`: the wall-clock time in milliseconds since the Unix epoch.

use chronicle_core::caps::Registry;
use chronicle_core::types::{Type, Version};
use chronicle_core::vm::CapabilityError;
use chronicle_core::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// Offers `clock.now@1.0`.
pub fn register(registry: &mut Registry<'static>) {
    registry.register(
        "clock.now",
        Version::new(1, 0),
        super::sig(&[], Some(Type::Int)),
        |_| now_ms().map(Value::Int),
    );
}

/// Milliseconds since 1970-01-01T00:00:00Z (negative before it).
fn now_ms() -> Result<i64, CapabilityError> {
    let ms = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()),
        Err(before) => i64::try_from(before.duration().as_millis()).map(|ms| -ms),
    };
    ms.map_err(|_| CapabilityError::new("the system clock is out of range"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_after_2023() {
        assert!(super::now_ms().unwrap() > 1_672_531_200_000);
    }
}
