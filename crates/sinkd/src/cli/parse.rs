//! `sinkd parse`: raw messages on stdin, one JSON object per message on
//! stdout, keyed as docs/specs/cli.md fixes (`format`, `facility`, `severity`,
//! `version`, `timestamp`, `hostname`, `app_name`, `procid`, `msgid`,
//! `structured_data`, `msg`).
//!
//! Input is split with the same RFC 6587 deframer the TCP listener uses:
//! one message per line by default, or octet-counted frames so that any
//! byte, newline included, can be fed. With `--strict`, a message that
//! breaks RFC 5424 prints `{"error": "..."}` and the run goes on.

use crate::clock::{parse_receive_time, Clock};
use bytes::BytesMut;
use serde::Serialize;
use sinkd_proto::framing::{Deframer, Framing};
use sinkd_proto::ReceiveTime;
use sinkd_read::MessageView;
use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub(crate) struct ParseArgs {
    /// How messages are delimited on stdin.
    #[arg(long, value_enum, default_value = "lf")]
    framing: FramingArg,
    /// Reject input that is not valid RFC 5424, printing {"error": "..."}.
    #[arg(long)]
    strict: bool,
    /// Receive time used to complete timestamps without year or zone
    /// (RFC 3339, e.g. 2026-01-01T00:00:05+01:00). Default: now, local zone.
    #[arg(long, value_name = "RFC3339")]
    received: Option<String>,
    /// Largest accepted message in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    max_frame: usize,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum FramingArg {
    /// One message per line (RFC 6587 non-transparent framing).
    Lf,
    /// `LEN SP MSG` frames (RFC 6587 octet counting).
    OctetCounting,
}

#[derive(Serialize)]
struct ErrorView {
    error: String,
}

pub(crate) fn run(args: &ParseArgs) -> anyhow::Result<ExitCode> {
    let received = match &args.received {
        Some(text) => Some(parse_receive_time(text)?),
        None => None,
    };
    let clock = Clock::system();
    let framing = match args.framing {
        FramingArg::Lf => Framing::NonTransparent,
        FramingArg::OctetCounting => Framing::OctetCounting,
    };
    let mut deframer = Deframer::with_framing(framing, args.max_frame);
    let mut stdin = io::stdin().lock();
    let mut stdout = BufWriter::new(io::stdout().lock());
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut exit = ExitCode::SUCCESS;
    loop {
        let n_read = match stdin.read(&mut chunk) {
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error.into()),
        };
        let at_eof = n_read == 0;
        buf.extend_from_slice(&chunk[..n_read]);
        loop {
            let frame = if at_eof {
                deframer.decode_eof(&mut buf)
            } else {
                deframer.decode(&mut buf)
            };
            match frame {
                Ok(Some(frame)) => {
                    let now = received.unwrap_or_else(|| clock.now());
                    emit(&mut stdout, &frame, args.strict, &now)?;
                }
                Ok(None) => break,
                Err(error) => {
                    write_json(
                        &mut stdout,
                        &ErrorView {
                            error: error.to_string(),
                        },
                    )?;
                    exit = ExitCode::FAILURE;
                    if error.is_fatal() {
                        stdout.flush()?;
                        return Ok(exit);
                    }
                }
            }
        }
        if at_eof {
            break;
        }
    }
    stdout.flush()?;
    Ok(exit)
}

fn emit(
    out: &mut impl Write,
    frame: &[u8],
    strict: bool,
    received: &ReceiveTime,
) -> io::Result<()> {
    if strict {
        match sinkd_proto::parse_strict(frame) {
            Ok(message) => write_json(out, &MessageView::new(&message)),
            Err(error) => write_json(
                out,
                &ErrorView {
                    error: error.to_string(),
                },
            ),
        }
    } else {
        let message = sinkd_proto::parse(frame, received);
        write_json(out, &MessageView::new(&message))
    }
}

fn write_json(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::other)?;
    out.write_all(b"\n")
}
