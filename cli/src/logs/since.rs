//! `--since`: a duration before now or an RFC 3339 time.

use std::str::FromStr;
use std::time::Duration;

use aws_smithy_types::date_time::{DateTime, Format};

/// `--since`: where the events start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// This long before now.
    Ago(Duration),
    /// At this time, in milliseconds since the epoch (CloudWatch's unit).
    At(i64),
}

impl Since {
    /// The start in milliseconds since the epoch, now being `now_ms`.
    pub fn start(self, now_ms: i64) -> i64 {
        match self {
            Since::Ago(ago) => now_ms.saturating_sub(i64::try_from(ago.as_millis()).unwrap_or(i64::MAX)),
            Since::At(ms) => ms,
        }
    }
}

impl FromStr for Since {
    type Err = String;

    fn from_str(s: &str) -> Result<Since, String> {
        let s = s.trim();
        if let Some(ago) = duration(s) {
            return Ok(Since::Ago(ago));
        }
        DateTime::from_str(s, Format::DateTimeWithOffset)
            .ok()
            .and_then(|t| t.to_millis().ok())
            .map(Since::At)
            .ok_or_else(|| {
                format!("`{s}` is neither a duration (30s, 10m, 2h, 1d) nor an RFC 3339 time (2025-05-01T12:00:00Z)")
            })
    }
}

/// `30s`, `10m`, `2h`, `1d`.
pub(super) fn duration(s: &str) -> Option<Duration> {
    let unit: u64 = match s.as_bytes().last()? {
        b's' => 1,
        b'm' => 60,
        b'h' => 3_600,
        b'd' => 86_400,
        _ => return None,
    };
    let digits = &s[..s.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit).map(Duration::from_secs)
}
