//! RFC 3164 / vendor / bare-form parser. Being written.

use crate::message::{Format, Message};
use crate::pri::Pri;
use crate::time::ReceiveTime;

pub(crate) fn parse<'a>(
    raw: &'a [u8],
    trimmed: &'a [u8],
    pri: Pri,
    pri_len: usize,
    received: &ReceiveTime,
) -> Message<'a> {
    let _ = received;
    Message {
        msg: &trimmed[pri_len..],
        ..Message::empty(Format::Bsd, pri, raw)
    }
}
