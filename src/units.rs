//! Sizes and durations as people write and read them. A leaf: it imports nothing
//! from the crate.

use std::time::Duration;

/// The longest duration any setting takes: longer waits and timeouts are refused
/// (a typo such as `1e20` would otherwise overflow the clock).
pub const MAX_SETTING_SECONDS: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A number of seconds as a duration, if it is between 0 and [`MAX_SETTING_SECONDS`].
pub fn parse_seconds(secs: f64) -> Option<Duration> {
    if !(0.0..=MAX_SETTING_SECONDS.as_secs_f64()).contains(&secs) {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

/// A setting's number of seconds, as clap parses it (flag or environment value).
pub fn seconds_setting(raw: &str) -> Result<Duration, String> {
    raw.trim()
        .parse::<f64>()
        .ok()
        .and_then(parse_seconds)
        .ok_or_else(|| {
            format!(
                "expected a number of seconds from 0 to {} (30 days)",
                MAX_SETTING_SECONDS.as_secs()
            )
        })
}

/// A setting's count of at least one.
pub fn count_setting(raw: &str) -> Result<usize, String> {
    match raw.trim().parse::<usize>() {
        Ok(count) if count >= 1 => Ok(count),
        _ => Err("expected a whole number of at least 1".to_owned()),
    }
}

/// A setting's number of credits: positive and finite.
pub fn credits_setting(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(credits) if credits.is_finite() && credits > 0.0 => Ok(credits),
        _ => Err("expected a number of credits above 0".to_owned()),
    }
}

/// A setting's size in bytes, as clap parses it.
pub fn size_setting(raw: &str) -> Result<u64, String> {
    parse_size(raw).ok_or_else(|| "expected a size like 500MiB or 2GiB".to_owned())
}

/// A byte size: a number with an optional unit (B, KB/KiB, MB/MiB, GB/GiB, TB/TiB;
/// the decimal spellings count as binary, as people mean them for file sizes).
/// Sizes that do not fit in 64 bits are refused, not wrapped.
pub fn parse_size(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    let bytes = number * scale as f64;
    // 2^64 as f64; anything at or above it does not fit.
    (bytes.is_finite() && bytes < 18_446_744_073_709_551_616.0).then_some(bytes as u64)
}

/// Sizes as people read them: 512 B, 1.5 KiB, 3.2 MiB.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_read_well() {
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("1.5 MiB"), Some(1_572_864));
        assert_eq!(parse_size("300"), Some(300));
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(parse_size("99999999999TiB"), None);
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    proptest::proptest! {
        /// Any text or number: a value in range or a refusal, never a panic or a
        /// wrapped number.
        #[test]
        fn sizes_and_seconds_never_panic_or_wrap(
            text in "\\PC{0,16}",
            number in proptest::num::f64::ANY,
            unit in proptest::sample::select(vec!["", "B", "KiB", "MiB", "GiB", "TiB", "x"]),
        ) {
            let _ = parse_size(&text);
            if let Some(bytes) = parse_size(&format!("{number}{unit}")) {
                proptest::prop_assert!(number >= 0.0 && bytes as f64 <= number * (1u64 << 40) as f64 + 1.0);
            }
            if let Some(duration) = parse_seconds(number) {
                proptest::prop_assert!(duration <= MAX_SETTING_SECONDS);
            }
        }
    }
}
