//! Changing a share's unlock secret with an overlap (`docs/SECURITY.md`): for a grace period the
//! previous secret keeps unlocking, so the customer's server can move to the new one without a
//! gap; with none, the previous secret stops at once and the share's sessions end.

/// Longest overlap: 7 days.
pub const MAX_GRACE_SECS: u32 = 7 * 24 * 60 * 60;

/// How long the previous secret keeps unlocking after a change: 0 to [`MAX_GRACE_SECS`] seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GracePeriod(u32);

impl GracePeriod {
    pub const NONE: Self = Self(0);

    /// `graceSeconds` as sent: a whole number of seconds in range; `null` means none.
    pub fn parse(value: &serde_json::Value) -> Option<Self> {
        if value.is_null() {
            return Some(Self::NONE);
        }
        let secs = u32::try_from(value.as_u64()?).ok()?;
        (secs <= MAX_GRACE_SECS).then_some(Self(secs))
    }

    pub fn secs(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn grace_periods_are_whole_seconds_up_to_seven_days() {
        let cases = [
            (json!(null), Some(0)),
            (json!(0), Some(0)),
            (json!(1), Some(1)),
            (json!(86400), Some(86400)),
            (json!(604800), Some(604800)),
            (json!(604801), None),
            (json!(-1), None),
            (json!(1.5), None),
            (json!(60.0), None),
            (json!("60"), None),
            (json!(true), None),
            (json!([60]), None),
            (json!({"secs": 60}), None),
            (json!(u64::MAX), None),
        ];
        for (value, expected) in cases {
            assert_eq!(
                GracePeriod::parse(&value).map(GracePeriod::secs),
                expected,
                "{value}"
            );
        }
    }
}
