//! RELP, the Reliable Event Logging Protocol of rsyslog's `omrelp`, as the
//! server side speaks it: frames cut off a byte slice, and the frames the
//! server writes back. No I/O: the listener (`sinkd-listen`) reads the
//! socket and feeds the bytes here.
//!
//! A frame is `TXNR SP COMMAND SP DATALEN [SP DATA] LF`: a transaction
//! number of 1 to 9 digits (0 is reserved for hints such as
//! `serverclose`), a command of 1 to 32 ASCII letters, the data length in
//! 1 to 9 digits and, when it is not 0, a space and that many octets. The
//! client numbers its commands 1, 2, 3… (after 999,999,999 comes 1 again);
//! the server answers each with an `rsp` frame carrying the same number, in
//! the order the commands came, `200 OK` for success. A session starts with
//! `open`, whose data are the client's offers (`relp_version`, `commands`,
//! `relp_software`, one per line), answered with `200 OK` and the server's
//! offers; it ends with `close`, answered with an empty `rsp`, or with the
//! server's `serverclose` hint before it closes the connection.
//!
//! [`decode`] never allocates and never reads a DATALEN's worth of bytes
//! before checking it against the caller's limit: a header claiming more is
//! an error at once, so a peer cannot make the caller buffer it.

use std::fmt;

/// Most digits of a TXNR or DATALEN.
pub const MAX_NUMBER_DIGITS: usize = 9;
/// Longest command name.
pub const MAX_COMMAND_LEN: usize = 32;
/// Largest transaction number; the next after it is 1.
pub const MAX_TXNR: u32 = 999_999_999;
/// Longest header: two numbers, a command and the three separators.
pub const MAX_HEADER_LEN: usize = 2 * MAX_NUMBER_DIGITS + MAX_COMMAND_LEN + 3;

/// The highest RELP version this server speaks. librelp (every rsyslog)
/// offers version 0, the specification describes version 1; both frame
/// alike, and the server answers with the lower of its own and the
/// client's.
pub const RELP_VERSION_MAX: u32 = 1;

/// A command this server knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `open`: the session's start, data the client's offers.
    Open,
    /// `syslog`: one message, data the syslog message.
    Syslog,
    /// `close`: the client ends the session.
    Close,
    /// Any other name (kept as written, at most 32 letters).
    Other,
}

impl Command {
    fn from_name(name: &[u8]) -> Command {
        match name {
            b"open" => Command::Open,
            b"syslog" => Command::Syslog,
            b"close" => Command::Close,
            _ => Command::Other,
        }
    }
}

/// One decoded frame, borrowing from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The transaction number (0 for a hint).
    pub txnr: u32,
    /// The command as written.
    pub command_name: &'a [u8],
    /// What [`Frame::command_name`] means here.
    pub command: Command,
    /// The DATA octets (empty when DATALEN is 0).
    pub data: &'a [u8],
}

/// The part of a frame a [`FrameError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Txnr,
    Command,
    Datalen,
    Trailer,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Txnr => "TXNR",
            Field::Command => "command",
            Field::Datalen => "DATALEN",
            Field::Trailer => "trailer",
        })
    }
}

/// Why bytes are not a RELP frame. Every error ends the session: the
/// stream cannot be resynchronised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A byte that does not belong where it was found.
    #[error("RELP {field}: unexpected byte {byte:#04x} at offset {offset}")]
    Unexpected {
        field: Field,
        byte: u8,
        offset: usize,
    },
    /// A field with nothing in it (such as two spaces in a row).
    #[error("RELP {field} is empty")]
    Empty { field: Field },
    /// A TXNR or DATALEN of more than 9 digits, or a command of more than
    /// 32 letters.
    #[error("RELP {field} is longer than {max} characters")]
    TooLong { field: Field, max: usize },
    /// DATALEN above what the receiver accepts.
    #[error("RELP DATALEN {datalen} is above the limit of {max} bytes")]
    TooLarge { datalen: usize, max: usize },
}

impl FrameError {
    /// Whether the error is a DATALEN above the limit (a message too large
    /// rather than a broken stream).
    pub fn is_too_large(&self) -> bool {
        matches!(self, FrameError::TooLarge { .. })
    }
}

/// Decodes the frame at the start of `input`, whose DATALEN may be at most
/// `max_data`. Returns the frame and the bytes it took, `Ok(None)` when
/// `input` holds only the beginning of a valid frame, or the first fault
/// found, as early as the bytes show it (a bad header byte does not wait
/// for more input).
pub fn decode(input: &[u8], max_data: usize) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    let mut pos = 0;
    let Some((txnr, end)) = number(input, pos, Field::Txnr)? else {
        return Ok(None);
    };
    pos = end + 1;
    let command_start = pos;
    loop {
        let Some(&byte) = input.get(pos) else {
            return Ok(None);
        };
        if byte == b' ' {
            break;
        }
        if !byte.is_ascii_alphabetic() {
            return Err(FrameError::Unexpected {
                field: Field::Command,
                byte,
                offset: pos,
            });
        }
        if pos - command_start == MAX_COMMAND_LEN {
            return Err(FrameError::TooLong {
                field: Field::Command,
                max: MAX_COMMAND_LEN,
            });
        }
        pos += 1;
    }
    if pos == command_start {
        return Err(FrameError::Empty {
            field: Field::Command,
        });
    }
    let command_name = &input[command_start..pos];
    pos += 1;
    let Some((datalen, end)) = number(input, pos, Field::Datalen)? else {
        return Ok(None);
    };
    let datalen = datalen as usize;
    if datalen > max_data {
        return Err(FrameError::TooLarge {
            datalen,
            max: max_data,
        });
    }
    // `number` stops at a space or LF; with data it must be the space.
    let data_start = match (datalen, input[end]) {
        (0, _) => end,
        (_, b' ') => end + 1,
        (_, byte) => {
            return Err(FrameError::Unexpected {
                field: Field::Datalen,
                byte,
                offset: end,
            })
        }
    };
    let trailer = data_start + datalen;
    let Some(&byte) = input.get(trailer) else {
        return Ok(None);
    };
    if byte != b'\n' {
        return Err(FrameError::Unexpected {
            field: Field::Trailer,
            byte,
            offset: trailer,
        });
    }
    let frame = Frame {
        txnr,
        command_name,
        command: Command::from_name(command_name),
        data: &input[data_start..trailer],
    };
    Ok(Some((frame, trailer + 1)))
}

/// Reads the 1-to-9-digit number starting at `start`, up to the byte that
/// ends it: a space, or for DATALEN also an LF. Returns the value and the
/// offset of that byte, or `None` when the input ends first.
fn number(input: &[u8], start: usize, field: Field) -> Result<Option<(u32, usize)>, FrameError> {
    let mut value: u32 = 0;
    let mut pos = start;
    loop {
        let Some(&byte) = input.get(pos) else {
            return Ok(None);
        };
        match byte {
            b'0'..=b'9' => {
                if pos - start == MAX_NUMBER_DIGITS {
                    return Err(FrameError::TooLong {
                        field,
                        max: MAX_NUMBER_DIGITS,
                    });
                }
                // Nine digits stay below u32::MAX.
                value = value * 10 + u32::from(byte - b'0');
            }
            b' ' | b'\n' if pos == start => return Err(FrameError::Empty { field }),
            b' ' => return Ok(Some((value, pos))),
            b'\n' if field == Field::Datalen => return Ok(Some((value, pos))),
            _ => {
                return Err(FrameError::Unexpected {
                    field,
                    byte,
                    offset: pos,
                })
            }
        }
        pos += 1;
    }
}

/// The transaction number that follows `txnr`: one more, and 1 after
/// [`MAX_TXNR`].
pub fn next_txnr(txnr: u32) -> u32 {
    if txnr >= MAX_TXNR {
        1
    } else {
        txnr + 1
    }
}

/// Appends a frame to `out`. `command` must be letters only and `txnr` at
/// most [`MAX_TXNR`] (the server writes only its own fixed commands).
pub fn encode(out: &mut Vec<u8>, txnr: u32, command: &str, data: &[u8]) {
    let mut digits = itoa::Buffer::new();
    out.extend_from_slice(digits.format(txnr).as_bytes());
    out.push(b' ');
    out.extend_from_slice(command.as_bytes());
    out.push(b' ');
    out.extend_from_slice(digits.format(data.len()).as_bytes());
    if !data.is_empty() {
        out.push(b' ');
        out.extend_from_slice(data);
    }
    out.push(b'\n');
}

/// Appends `TXNR rsp 6 200 OK`: the command succeeded.
pub fn encode_ok(out: &mut Vec<u8>, txnr: u32) {
    encode(out, txnr, "rsp", b"200 OK");
}

/// Appends an `rsp` with status 500 and `text` (at most 80 bytes of it,
/// without LF, as clients read it): the command failed.
pub fn encode_error(out: &mut Vec<u8>, txnr: u32, text: &str) {
    let mut data = Vec::with_capacity(84);
    data.extend_from_slice(b"500 ");
    data.extend(text.bytes().filter(|&byte| byte != b'\n').take(80));
    encode(out, txnr, "rsp", &data);
}

/// Appends the empty `rsp` that answers `close`.
pub fn encode_close_reply(out: &mut Vec<u8>, txnr: u32) {
    encode(out, txnr, "rsp", b"");
}

/// Appends the `serverclose` hint (TXNR 0), sent before the server closes
/// a session.
pub fn encode_serverclose(out: &mut Vec<u8>) {
    encode(out, 0, "serverclose", b"");
}

/// What the client's `open` offers say, as far as the server cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offers {
    /// The `relp_version` offered.
    pub relp_version: u32,
    /// Whether `commands` lists `syslog`.
    pub syslog: bool,
}

/// Why an `open` cannot start a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    /// No `relp_version` offer, which the specification requires.
    #[error("RELP open without a relp_version offer")]
    NoVersion,
    /// A `relp_version` that is not a number.
    #[error("RELP open with a relp_version that is not a number")]
    BadVersion,
}

/// Reads the offers of an `open` command's data: one per line,
/// `NAME[=VALUE[,VALUE…]]`; unknown names are ignored, as the
/// specification asks.
pub fn read_offers(data: &[u8]) -> Result<Offers, OfferError> {
    let mut version = None;
    let mut syslog = false;
    for line in data.split(|&byte| byte == b'\n') {
        let (name, value) = match line.iter().position(|&byte| byte == b'=') {
            Some(at) => (&line[..at], &line[at + 1..]),
            None => (line, &b""[..]),
        };
        match name {
            b"relp_version" => {
                let text = std::str::from_utf8(value).map_err(|_| OfferError::BadVersion)?;
                version = Some(text.trim().parse().map_err(|_| OfferError::BadVersion)?);
            }
            b"commands" => {
                syslog |= value
                    .split(|&byte| byte == b',')
                    .any(|command| command == b"syslog");
            }
            _ => {}
        }
    }
    Ok(Offers {
        relp_version: version.ok_or(OfferError::NoVersion)?,
        syslog,
    })
}

/// Appends the `rsp` answering an `open` with `offers`: `200 OK` and the
/// server's offers (the lower of the two versions, `syslog` as the one
/// command, and `software` as the software's name).
pub fn encode_open_reply(out: &mut Vec<u8>, txnr: u32, offers: &Offers, software: &str) {
    let version = offers.relp_version.min(RELP_VERSION_MAX);
    let mut data = Vec::with_capacity(80 + software.len());
    data.extend_from_slice(b"200 OK\nrelp_version=");
    data.extend_from_slice(itoa::Buffer::new().format(version).as_bytes());
    data.extend_from_slice(b"\nrelp_software=");
    data.extend(software.bytes().filter(|&byte| byte != b'\n'));
    data.extend_from_slice(b"\ncommands=syslog");
    encode(out, txnr, "rsp", &data);
}

#[cfg(test)]
mod tests;
