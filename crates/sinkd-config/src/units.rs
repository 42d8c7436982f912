//! Value types with units, as operators write them: sizes like the device's
//! `external-logging 10M 10` (`512`, `64k`, `10M`, `1G`, powers of 1024),
//! sizes or percentages (`min_free = "1%"`) and durations like `250ms`,
//! `30s`, `10m`, `1h`, `7d`.
//!
//! Both deserialize from a TOML string or integer (bytes, seconds) and
//! reject anything else during deserialization, so the TOML parser reports
//! the offending line and column for free.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// A size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

/// A size in bytes or a share of something, in per cent (`min_free`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SizeOrPercent {
    Bytes(u64),
    Percent(f64),
}

/// A duration written with a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

/// Reads `64k`, `10M`, `1G` or a plain number of bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("invalid size {text:?}: expected a number with optional k, M or G"))?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "k" | "K" | "KiB" | "kB" => 1 << 10,
        "M" | "MiB" | "MB" => 1 << 20,
        "G" | "GiB" | "GB" => 1 << 30,
        other => {
            return Err(format!(
                "invalid size unit {other:?} in {text:?}: use k, M or G"
            ))
        }
    };
    value
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// Reads `5%`, `0.5%` (0 to 100) or a size as [`parse_size`] does.
pub fn parse_size_or_percent(text: &str) -> Result<SizeOrPercent, String> {
    let Some(number) = text.trim().strip_suffix('%') else {
        return parse_size(text).map(SizeOrPercent::Bytes);
    };
    let number = number.trim();
    let well_formed = !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.matches('.').count() <= 1;
    match number.parse::<f64>() {
        Ok(percent) if well_formed && (0.0..=100.0).contains(&percent) => {
            Ok(SizeOrPercent::Percent(percent))
        }
        _ => Err(format!(
            "invalid percentage {text:?}: expected 0% to 100%, such as \"1%\" or \"0.5%\""
        )),
    }
}

/// Reads `250ms`, `30s`, `10m`, `1h`, `7d` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits.parse().map_err(|_| {
        format!("invalid duration {text:?}: expected a number with ms, s, m, h or d")
    })?;
    let duration = match unit.trim() {
        "ms" => Duration::from_millis(value),
        "" | "s" => Duration::from_secs(value),
        "m" | "min" => Duration::from_secs(value.saturating_mul(60)),
        "h" => Duration::from_secs(value.saturating_mul(3600)),
        "d" => Duration::from_secs(value.saturating_mul(86_400)),
        other => {
            return Err(format!(
                "invalid duration unit {other:?} in {text:?}: use ms, s, m, h or d"
            ))
        }
    };
    Ok(duration)
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = ByteSize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size such as 65536, \"64k\" or \"10M\"")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<ByteSize, E> {
        u64::try_from(value)
            .map(ByteSize)
            .map_err(|_| E::custom("a size cannot be negative"))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<ByteSize, E> {
        parse_size(value).map(ByteSize).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ByteSize, D::Error> {
        deserializer.deserialize_any(SizeVisitor)
    }
}

struct SizeOrPercentVisitor;

impl Visitor<'_> for SizeOrPercentVisitor {
    type Value = SizeOrPercent;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size such as \"100M\" or a percentage such as \"1%\"")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<SizeOrPercent, E> {
        SizeVisitor
            .visit_i64(value)
            .map(|size| SizeOrPercent::Bytes(size.0))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<SizeOrPercent, E> {
        parse_size_or_percent(value).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for SizeOrPercent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SizeOrPercent, D::Error> {
        deserializer.deserialize_any(SizeOrPercentVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = HumanDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as 30, \"250ms\", \"10m\" or \"1d\"")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<HumanDuration, E> {
        u64::try_from(value)
            .map(|secs| HumanDuration(Duration::from_secs(secs)))
            .map_err(|_| E::custom("a duration cannot be negative"))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<HumanDuration, E> {
        parse_duration(value).map(HumanDuration).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<HumanDuration, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}
