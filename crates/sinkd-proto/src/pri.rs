//! Facility and severity: the two halves of a syslog PRI value.
//!
//! Both enums follow RFC 5424 §6.2.1's numbering (not alphabetical order), so
//! `facility as u8 * 8 + severity as u8` is the PRI. Keyword spelling follows
//! the device manual: `security` is 13 and `console` is 14, and facility 15
//! exists on the wire but has no keyword. The old severity aliases `panic`,
//! `error` and `warn` are accepted when reading, never produced.

use std::fmt;

/// Where a message comes from, numbered as on the wire (RFC 5424 §6.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Facility {
    Kern = 0,
    User = 1,
    Mail = 2,
    Daemon = 3,
    Auth = 4,
    Syslog = 5,
    Lpr = 6,
    News = 7,
    Uucp = 8,
    Cron = 9,
    Authpriv = 10,
    Ftp = 11,
    Ntp = 12,
    Security = 13,
    Console = 14,
    /// Facility 15 (RFC 5424's second clock daemon) has no keyword on the device.
    Facility15 = 15,
    Local0 = 16,
    Local1 = 17,
    Local2 = 18,
    Local3 = 19,
    Local4 = 20,
    Local5 = 21,
    Local6 = 22,
    Local7 = 23,
}

/// How bad it is; lower numbers are more severe (RFC 5424 §6.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Severity {
    Emerg = 0,
    Alert = 1,
    Crit = 2,
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

/// Number of facilities a PRI can carry (0..=23).
pub const FACILITY_COUNT: usize = 24;
/// Number of severities (0..=7).
pub const SEVERITY_COUNT: usize = 8;

impl Facility {
    /// Every facility in numeric order.
    pub const ALL: [Facility; FACILITY_COUNT] = [
        Facility::Kern,
        Facility::User,
        Facility::Mail,
        Facility::Daemon,
        Facility::Auth,
        Facility::Syslog,
        Facility::Lpr,
        Facility::News,
        Facility::Uucp,
        Facility::Cron,
        Facility::Authpriv,
        Facility::Ftp,
        Facility::Ntp,
        Facility::Security,
        Facility::Console,
        Facility::Facility15,
        Facility::Local0,
        Facility::Local1,
        Facility::Local2,
        Facility::Local3,
        Facility::Local4,
        Facility::Local5,
        Facility::Local6,
        Facility::Local7,
    ];

    /// The facility with this wire number, if it is one (0..=23).
    pub fn from_code(code: u8) -> Option<Facility> {
        Facility::ALL.get(usize::from(code)).copied()
    }

    /// The wire number.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The device keyword (`kern`, `local7`, ...); facility 15 has none and
    /// is spelled `15`.
    pub fn keyword(self) -> &'static str {
        FACILITY_KEYWORDS[self as usize]
    }

    /// Reads a device keyword. Facility 15 cannot be named.
    pub fn from_keyword(word: &str) -> Option<Facility> {
        FACILITY_KEYWORDS
            .iter()
            .position(|k| *k == word)
            .filter(|&i| i != 15)
            .and_then(|i| Facility::from_code(i as u8))
    }
}

const FACILITY_KEYWORDS: [&str; FACILITY_COUNT] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "security", "console", "15", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

const SEVERITY_KEYWORDS: [&str; SEVERITY_COUNT] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

impl Severity {
    /// Every severity in numeric order, most severe first.
    pub const ALL: [Severity; SEVERITY_COUNT] = [
        Severity::Emerg,
        Severity::Alert,
        Severity::Crit,
        Severity::Err,
        Severity::Warning,
        Severity::Notice,
        Severity::Info,
        Severity::Debug,
    ];

    /// The severity with this wire number, if it is one (0..=7).
    pub fn from_code(code: u8) -> Option<Severity> {
        Severity::ALL.get(usize::from(code)).copied()
    }

    /// The wire number.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The device keyword (`emerg` ... `debug`).
    pub fn keyword(self) -> &'static str {
        SEVERITY_KEYWORDS[self as usize]
    }

    /// Reads a device keyword, including the old aliases `panic`, `error`
    /// and `warn`.
    pub fn from_keyword(word: &str) -> Option<Severity> {
        match word {
            "panic" => Some(Severity::Emerg),
            "error" => Some(Severity::Err),
            "warn" => Some(Severity::Warning),
            _ => SEVERITY_KEYWORDS
                .iter()
                .position(|k| *k == word)
                .and_then(|i| Severity::from_code(i as u8)),
        }
    }
}

impl fmt::Display for Facility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// A decoded PRI: facility and severity together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pri {
    pub facility: Facility,
    pub severity: Severity,
}

impl Pri {
    /// `user.notice`, what RFC 3164 §4.3.3 assigns a message without a valid PRI.
    pub const DEFAULT: Pri = Pri {
        facility: Facility::User,
        severity: Severity::Notice,
    };

    /// Splits a PRI value (0..=191).
    pub fn from_value(value: u8) -> Option<Pri> {
        Some(Pri {
            facility: Facility::from_code(value >> 3)?,
            severity: Severity::from_code(value & 7)?,
        })
    }

    /// The PRI value, `facility * 8 + severity`.
    pub fn value(self) -> u8 {
        self.facility.code() * 8 + self.severity.code()
    }
}

/// Reads a `<PRI>` at the start of `input`: `<`, one to three digits without
/// a leading zero (except `<0>` itself), a value up to 191, `>`. Returns the
/// PRI and the number of bytes it took.
pub fn parse_pri(input: &[u8]) -> Option<(Pri, usize)> {
    if input.first() != Some(&b'<') {
        return None;
    }
    let mut value: u16 = 0;
    let mut idx = 1;
    while idx < input.len() && idx <= 4 {
        let byte = input[idx];
        if byte == b'>' {
            let n_digits = idx - 1;
            if n_digits == 0 || (n_digits > 1 && input[1] == b'0') || value > 191 {
                return None;
            }
            return Some((Pri::from_value(value as u8)?, idx + 1));
        }
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u16::from(byte - b'0');
        idx += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pri_edges() {
        assert_eq!(
            parse_pri(b"<0>x").map(|(p, n)| (p.value(), n)),
            Some((0, 3))
        );
        assert_eq!(
            parse_pri(b"<191>").map(|(p, n)| (p.value(), n)),
            Some((191, 5))
        );
        assert_eq!(parse_pri(b"<192>"), None);
        assert_eq!(parse_pri(b"<01>"), None);
        assert_eq!(parse_pri(b"<>"), None);
        assert_eq!(parse_pri(b"<1234>"), None);
        assert_eq!(parse_pri(b"<13"), None);
        assert_eq!(parse_pri(b"13>"), None);
    }

    #[test]
    fn keywords_round_trip() {
        for facility in Facility::ALL {
            if facility != Facility::Facility15 {
                assert_eq!(Facility::from_keyword(facility.keyword()), Some(facility));
            }
        }
        assert_eq!(Facility::from_keyword("15"), None);
        for severity in Severity::ALL {
            assert_eq!(Severity::from_keyword(severity.keyword()), Some(severity));
        }
        assert_eq!(Severity::from_keyword("panic"), Some(Severity::Emerg));
        assert_eq!(Severity::from_keyword("error"), Some(Severity::Err));
        assert_eq!(Severity::from_keyword("warn"), Some(Severity::Warning));
    }
}
