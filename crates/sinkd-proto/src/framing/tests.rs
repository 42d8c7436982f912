//! Unit tests for the RFC 6587 deframer and frame encoder.

use super::*;
use proptest::prelude::*;

const MAX_64K: usize = 64 * 1024;

/// Feeds `chunks` one after another, decoding everything available after
/// each, then decodes at EOF. Checks the buffer bound on every `Ok(None)`.
fn run(deframer: &mut Deframer, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<FrameError>) {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut errors = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match deframer.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame.to_vec()),
                Ok(None) => {
                    assert!(buf.len() <= deframer.max_buffered(), "{}", buf.len());
                    break;
                }
                Err(error) => {
                    errors.push(error);
                    if error.is_fatal() {
                        return (frames, errors);
                    }
                }
            }
        }
    }
    loop {
        match deframer.decode_eof(&mut buf) {
            Ok(Some(frame)) => frames.push(frame.to_vec()),
            Ok(None) => break,
            Err(error) => {
                errors.push(error);
                if error.is_fatal() {
                    break;
                }
            }
        }
    }
    (frames, errors)
}

fn strings(frames: &[Vec<u8>]) -> Vec<&str> {
    frames
        .iter()
        .map(|f| std::str::from_utf8(f).unwrap())
        .collect()
}

const OCTET_STREAM: &[u8] = b"10 <13>hello\n9 <14>b c d24 <15>1 - - - - - - x\ny z\n";

#[test]
fn octet_counting_many_frames_in_one_buffer() {
    let mut deframer = Deframer::new(MAX_64K);
    let (frames, errors) = run(&mut deframer, &[OCTET_STREAM]);
    assert_eq!(deframer.framing(), Some(Framing::OctetCounting));
    assert_eq!(errors, []);
    assert_eq!(
        strings(&frames),
        ["<13>hello\n", "<14>b c d", "<15>1 - - - - - - x\ny z\n"]
    );
}

#[test]
fn octet_counting_split_at_every_byte_boundary() {
    let (expected, _) = run(&mut Deframer::new(MAX_64K), &[OCTET_STREAM]);
    for split in 0..=OCTET_STREAM.len() {
        let (head, tail) = OCTET_STREAM.split_at(split);
        let (frames, errors) = run(&mut Deframer::new(MAX_64K), &[head, tail]);
        assert_eq!(errors, [], "split at {split}");
        assert_eq!(frames, expected, "split at {split}");
    }
    let single_bytes: Vec<&[u8]> = OCTET_STREAM.chunks(1).collect();
    let (frames, errors) = run(&mut Deframer::new(MAX_64K), &single_bytes);
    assert_eq!(errors, []);
    assert_eq!(frames, expected);
}

#[test]
fn octet_counting_frames_share_the_buffer_without_copying() {
    let mut deframer = Deframer::new(MAX_64K);
    let mut buf = BytesMut::from(&b"3 abc3 def"[..]);
    let base = buf.as_ptr() as usize;
    let first = deframer.decode(&mut buf).unwrap().unwrap();
    let second = deframer.decode(&mut buf).unwrap().unwrap();
    assert_eq!(first.as_ptr() as usize, base + 2);
    assert_eq!(second.as_ptr() as usize, base + 7);
    assert_eq!(deframer.decode(&mut buf), Ok(None));
    assert!(buf.is_empty());
}

#[test]
fn octet_counting_exact_limit_is_accepted() {
    let mut deframer = Deframer::new(5);
    let (frames, errors) = run(&mut deframer, &[b"5 abcde"]);
    assert_eq!(errors, []);
    assert_eq!(strings(&frames), ["abcde"]);
    let (_, errors) = run(&mut Deframer::new(5), &[b"6 abcdef"]);
    assert_eq!(
        errors,
        [FrameError::LengthTooLarge {
            claimed: 6,
            complete: true,
            max_frame: 5
        }]
    );
}

#[test]
fn bogus_lengths_fail_without_allocating() {
    let cases: [(&[u8], FrameError); 5] = [
        (b"0 <13>x", FrameError::LeadingZero),
        (b"01 <13>x", FrameError::LeadingZero),
        (
            b"99999999999 <13>x",
            FrameError::LengthTooLarge {
                claimed: 99_999_999_999,
                complete: true,
                max_frame: MAX_64K,
            },
        ),
        (
            b"2000000000 <13>x",
            FrameError::LengthTooLarge {
                claimed: 2_000_000_000,
                complete: true,
                max_frame: MAX_64K,
            },
        ),
        (
            b"65537 <13>x",
            FrameError::LengthTooLarge {
                claimed: 65_537,
                complete: true,
                max_frame: MAX_64K,
            },
        ),
    ];
    for (input, expected) in cases {
        let mut deframer = Deframer::with_framing(Framing::OctetCounting, MAX_64K);
        let mut buf = BytesMut::from(input);
        let capacity_before = buf.capacity();
        assert_eq!(deframer.decode(&mut buf), Err(expected), "{input:?}");
        assert_eq!(buf.capacity(), capacity_before, "{input:?}");
        assert!(buf.capacity() < 64, "{input:?}");
        // The error sticks: the stream cannot be resynchronised.
        buf.extend_from_slice(b"5 <13>x");
        assert_eq!(deframer.decode(&mut buf), Err(expected));
        assert!(expected.is_fatal());
    }
}

#[test]
fn too_large_is_reported_before_the_length_is_complete() {
    // Six digits cannot fit a 64 KiB limit, whatever follows.
    let mut deframer = Deframer::new(MAX_64K);
    let mut buf = BytesMut::from(&b"123456"[..]);
    let error = deframer.decode(&mut buf).unwrap_err();
    assert_eq!(
        error,
        FrameError::LengthTooLarge {
            claimed: 123_456,
            complete: false,
            max_frame: MAX_64K
        }
    );
    assert_eq!(
        error.to_string(),
        "octet-counting frame length 123456 (or more) exceeds the maximum of 65536 bytes"
    );
    assert!(error.is_too_large());
    // Five digits above the limit are caught as soon as the value is known.
    let mut deframer = Deframer::new(MAX_64K);
    let mut buf = BytesMut::from(&b"7"[..]);
    assert_eq!(deframer.decode(&mut buf), Ok(None));
    buf.extend_from_slice(b"0000");
    assert!(matches!(
        deframer.decode(&mut buf),
        Err(FrameError::LengthTooLarge {
            claimed: 70_000,
            complete: false,
            ..
        })
    ));
}

#[test]
fn absurd_digit_runs_saturate_in_the_report() {
    let mut deframer = Deframer::new(MAX_64K);
    let mut buf = BytesMut::from(&[b'9'; 40][..]);
    assert_eq!(
        deframer.decode(&mut buf),
        Err(FrameError::LengthTooLarge {
            claimed: u64::MAX,
            complete: false,
            max_frame: MAX_64K
        })
    );
}

#[test]
fn missing_space_after_length() {
    let mut deframer = Deframer::new(MAX_64K);
    let (frames, errors) = run(&mut deframer, &[b"12<13>message"]);
    assert_eq!(frames, Vec::<Vec<u8>>::new());
    assert_eq!(
        errors,
        [FrameError::MissingSpace {
            claimed: 12,
            found: b'<'
        }]
    );
    assert_eq!(
        errors[0].to_string(),
        "octet-counting frame length 12 is followed by byte 0x3c, expected a space"
    );
    // A later frame that is not a header at all.
    let (frames, errors) = run(&mut Deframer::new(MAX_64K), &[b"3 abc<13>def\n"]);
    assert_eq!(strings(&frames), ["abc"]);
    assert_eq!(errors, [FrameError::BadLengthByte { found: b'<' }]);
}

#[test]
fn forced_octet_counting_rejects_a_message_start() {
    let mut deframer = Deframer::with_framing(Framing::OctetCounting, MAX_64K);
    assert_eq!(deframer.framing(), Some(Framing::OctetCounting));
    let mut buf = BytesMut::from(&b"<13>hi\n"[..]);
    assert_eq!(
        deframer.decode(&mut buf),
        Err(FrameError::BadLengthByte { found: b'<' })
    );
}

#[test]
fn octet_counting_eof_inside_a_frame_is_truncated() {
    let mut deframer = Deframer::new(MAX_64K);
    let (frames, errors) = run(&mut deframer, &[b"3 abc10 <13>"]);
    assert_eq!(strings(&frames), ["abc"]);
    assert_eq!(errors, [FrameError::Truncated { buffered: 7 }]);
    assert!(errors[0].is_fatal());
}

#[test]
fn detection_waits_for_the_first_byte() {
    let mut deframer = Deframer::new(MAX_64K);
    assert_eq!(deframer.framing(), None);
    let mut buf = BytesMut::new();
    assert_eq!(deframer.decode(&mut buf), Ok(None));
    assert_eq!(deframer.decode_eof(&mut buf), Ok(None));
    assert_eq!(deframer.framing(), None);
    buf.extend_from_slice(b"<13>x");
    assert_eq!(deframer.decode(&mut buf), Ok(None));
    assert_eq!(deframer.framing(), Some(Framing::NonTransparent));
    // Once detected, a digit later on does not switch methods.
    buf.extend_from_slice(b"\n12 y\n");
    let first = deframer.decode(&mut buf).unwrap().unwrap();
    let second = deframer.decode(&mut buf).unwrap().unwrap();
    assert_eq!((&first[..], &second[..]), (&b"<13>x"[..], &b"12 y"[..]));
    assert_eq!(Framing::detect(b'0'), Framing::NonTransparent);
    assert_eq!(Framing::detect(b'9'), Framing::OctetCounting);
}

#[test]
fn lf_frames_with_crlf_and_empty_lines() {
    let stream: &[u8] = b"<13>one\r\n\n\r\n<14>two\n<15>three\r\r\n<16>four";
    let expected = ["<13>one", "<14>two", "<15>three\r", "<16>four"];
    for split in 0..=stream.len() {
        let (head, tail) = stream.split_at(split);
        let mut deframer = Deframer::new(MAX_64K);
        let (frames, errors) = run(&mut deframer, &[head, tail]);
        assert_eq!(errors, [], "split at {split}");
        assert_eq!(strings(&frames), expected, "split at {split}");
    }
}

#[test]
fn lf_eof_partial_frame() {
    let mut deframer = Deframer::new(MAX_64K);
    let mut buf = BytesMut::from(&b"<13>done\n<14>partial\r"[..]);
    assert_eq!(
        deframer.decode(&mut buf).unwrap().unwrap(),
        &b"<13>done"[..]
    );
    assert_eq!(deframer.decode(&mut buf), Ok(None));
    assert_eq!(
        deframer.decode_eof(&mut buf).unwrap().unwrap(),
        &b"<14>partial"[..]
    );
    assert_eq!(deframer.decode_eof(&mut buf), Ok(None));
    // A lone CR at EOF is an empty frame, skipped.
    let mut buf = BytesMut::from(&b"\r"[..]);
    assert_eq!(Deframer::new(MAX_64K).decode_eof(&mut buf), Ok(None));
}

#[test]
fn lf_endless_line_is_discarded_then_recovers() {
    let max_frame = 16;
    let mut deframer = Deframer::new(max_frame);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(b"<13>ok\n<13>");
    assert_eq!(deframer.decode(&mut buf).unwrap().unwrap(), &b"<13>ok"[..]);
    assert_eq!(deframer.decode(&mut buf), Ok(None));
    let mut n_oversized = 0;
    // Ten kilobytes of one line, arriving in small reads: reported once,
    // never buffered beyond the limit.
    for _ in 0..1000 {
        buf.extend_from_slice(b"xxxxxxxxxx");
        loop {
            match deframer.decode(&mut buf) {
                Ok(Some(frame)) => panic!("unexpected frame {frame:?}"),
                Ok(None) => break,
                Err(FrameError::Oversized { max_frame: 16 }) => n_oversized += 1,
                Err(error) => panic!("unexpected error {error}"),
            }
        }
        assert!(buf.len() <= deframer.max_buffered());
    }
    assert_eq!(n_oversized, 1);
    buf.extend_from_slice(b"tail of the long line\n<14>next\n");
    assert_eq!(
        deframer.decode(&mut buf).unwrap().unwrap(),
        &b"<14>next"[..]
    );
    assert_eq!(deframer.decode(&mut buf), Ok(None));
    assert!(buf.is_empty());
}

#[test]
fn lf_complete_oversized_line_is_dropped_once() {
    // Forced: the stream starts with a digit, which detection would read as
    // an octet-counting header.
    let mut deframer = Deframer::with_framing(Framing::NonTransparent, 8);
    let (frames, errors) = run(
        &mut deframer,
        &[b"12345678\n123456789\n12345678\r\n123456789\r\nok\n"],
    );
    assert_eq!(strings(&frames), ["12345678", "12345678", "ok"]);
    assert_eq!(errors, [FrameError::Oversized { max_frame: 8 }; 2]);
    assert!(!errors[0].is_fatal());
    assert!(errors[0].is_too_large());
}

#[test]
fn lf_oversized_line_split_everywhere_is_reported_once() {
    let stream: &[u8] = b"<13>a\n0123456789abcdef\n<13>b\n0123456789abcdefghij\r\n<13>c";
    for split in 0..=stream.len() {
        let (head, tail) = stream.split_at(split);
        let mut deframer = Deframer::new(10);
        let (frames, errors) = run(&mut deframer, &[head, tail]);
        assert_eq!(
            strings(&frames),
            ["<13>a", "<13>b", "<13>c"],
            "split {split}"
        );
        assert_eq!(
            errors,
            [FrameError::Oversized { max_frame: 10 }; 2],
            "split {split}"
        );
    }
}

#[test]
fn lf_eof_line_one_byte_over_the_limit() {
    let mut deframer = Deframer::new(4);
    let (frames, errors) = run(&mut deframer, &[b"abcde"]);
    assert_eq!(frames, Vec::<Vec<u8>>::new());
    assert_eq!(errors, [FrameError::Oversized { max_frame: 4 }]);
}

#[test]
fn lf_eof_while_discarding_drops_the_rest() {
    let mut deframer = Deframer::new(4);
    let (frames, errors) = run(&mut deframer, &[b"abcdefghij", b"klm"]);
    assert_eq!(frames, Vec::<Vec<u8>>::new());
    assert_eq!(errors, [FrameError::Oversized { max_frame: 4 }]);
}

#[test]
fn encode_octet_counting() {
    let mut out = Vec::new();
    encode_frame(Framing::OctetCounting, b"<13>a\nb", &mut out);
    encode_frame(Framing::OctetCounting, b"", &mut out);
    encode_frame(Framing::OctetCounting, &[b'x'; 123], &mut out);
    assert_eq!(&out[..10], b"7 <13>a\nb1");
    assert_eq!(&out[9..13], b"123 ");
    assert_eq!(out.len(), 9 + 4 + 123);
    let (frames, errors) = run(&mut Deframer::new(MAX_64K), &[&out]);
    assert_eq!(errors, []);
    assert_eq!(frames, [b"<13>a\nb".to_vec(), vec![b'x'; 123]]);
}

#[test]
fn encode_lf_escapes_embedded_newlines() {
    let mut out = Vec::new();
    encode_frame(Framing::NonTransparent, b"<13>a\nb\n", &mut out);
    encode_frame(Framing::NonTransparent, b"", &mut out);
    encode_frame(Framing::NonTransparent, b"<13>cr\r", &mut out);
    encode_frame(Framing::NonTransparent, b"<13>mid\rcr", &mut out);
    assert_eq!(out, b"<13>a#012b#012\n<13>cr#015\n<13>mid\rcr\n".as_slice());
    let (frames, errors) = run(&mut Deframer::new(MAX_64K), &[&out]);
    assert_eq!(errors, []);
    assert_eq!(
        strings(&frames),
        ["<13>a#012b#012", "<13>cr#015", "<13>mid\rcr"]
    );
}

#[test]
fn error_messages_name_the_problem() {
    assert_eq!(
        FrameError::LengthTooLarge {
            claimed: 2_000_000_000,
            complete: true,
            max_frame: MAX_64K
        }
        .to_string(),
        "octet-counting frame length 2000000000 exceeds the maximum of 65536 bytes"
    );
    assert_eq!(
        FrameError::Oversized { max_frame: 10 }.to_string(),
        "dropped a line longer than the maximum of 10 bytes"
    );
    assert_eq!(
        FrameError::BadLengthByte { found: b'<' }.to_string(),
        "octet-counting frame header starts with byte 0x3c, expected a digit 1-9"
    );
    assert_eq!(Framing::OctetCounting.name(), "octet-counting");
}

#[test]
fn decimal_digit_counts() {
    assert_eq!(decimal_digits(0), 1);
    assert_eq!(decimal_digits(9), 1);
    assert_eq!(decimal_digits(10), 2);
    assert_eq!(decimal_digits(65_536), 5);
    assert_eq!(decimal_digits(usize::MAX), 20);
}

#[test]
fn huge_max_frame_does_not_overflow() {
    let mut deframer = Deframer::new(usize::MAX);
    let mut buf = BytesMut::from(&b"99999999999999999999 x"[..]);
    assert!(matches!(
        deframer.decode(&mut buf),
        Err(FrameError::LengthTooLarge { .. })
    ));
    assert_eq!(deframer.max_buffered(), usize::MAX);
    let mut deframer = Deframer::new(usize::MAX);
    let mut buf = BytesMut::from(&b"3 abc"[..]);
    assert_eq!(deframer.decode(&mut buf).unwrap().unwrap(), &b"abc"[..]);
}

#[test]
fn lf_scan_position_survives_a_new_buffer() {
    let mut deframer = Deframer::new(MAX_64K);
    let mut first = BytesMut::from(&b"<13>a long partial line"[..]);
    assert_eq!(deframer.decode(&mut first), Ok(None));
    let mut second = BytesMut::from(&b"<13>b\n"[..]);
    assert_eq!(
        deframer.decode(&mut second).unwrap().unwrap(),
        &b"<13>b"[..]
    );
}

/// [`run`] through the cursor methods, the way the TCP listener uses them:
/// every chunk is decoded in place, and the decoded front of the buffer is
/// dropped only after every `drop_every`-th chunk and every `drop_every`-th
/// frame, so the cursor meets both a buffer it left off in and one whose
/// front was dropped, in the middle of a chunk as well as at its end.
fn run_at(
    deframer: &mut Deframer,
    chunks: &[&[u8]],
    drop_every: usize,
) -> (Vec<Vec<u8>>, Vec<FrameError>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut at = 0;
    let mut frames = Vec::new();
    let mut errors = Vec::new();
    for (index, chunk) in chunks.iter().enumerate() {
        buf.extend_from_slice(chunk);
        loop {
            match deframer.decode_at(&buf, &mut at) {
                Ok(Some(frame)) => {
                    assert!(frame.end <= at);
                    frames.push(buf[frame].to_vec());
                    if frames.len() % drop_every == 0 {
                        buf.drain(..at);
                        at = 0;
                    }
                }
                Ok(None) => {
                    assert!(buf.len() - at <= deframer.max_buffered());
                    break;
                }
                Err(error) => {
                    errors.push(error);
                    if error.is_fatal() {
                        return (frames, errors);
                    }
                }
            }
        }
        if index % drop_every == 0 {
            buf.drain(..at);
            at = 0;
        }
    }
    loop {
        match deframer.decode_eof_at(&buf, &mut at) {
            Ok(Some(frame)) => frames.push(buf[frame].to_vec()),
            Ok(None) => break,
            Err(error) => {
                errors.push(error);
                if error.is_fatal() {
                    break;
                }
            }
        }
    }
    assert_eq!(at, buf.len(), "EOF leaves nothing undecoded");
    (frames, errors)
}

#[test]
fn cursor_decoding_of_a_split_stream_matches_decode() {
    let stream: &[u8] = b"<13>a\r\n\n<14>b\n<15>far too long for the limit\n<16>c\r\n<17>tail\r";
    for step in 1..stream.len() {
        let chunks: Vec<&[u8]> = stream.chunks(step).collect();
        for drop_every in [1, 2, 3, 1000] {
            let expected = run(&mut Deframer::new(12), &chunks);
            let got = run_at(&mut Deframer::new(12), &chunks, drop_every);
            assert_eq!(got, expected, "step {step}, drop every {drop_every}");
        }
    }
    let (frames, errors) = run_at(&mut Deframer::new(12), &[stream], 1);
    assert_eq!(strings(&frames), ["<13>a", "<14>b", "<16>c", "<17>tail"]);
    assert_eq!(errors, [FrameError::Oversized { max_frame: 12 }]);
}

proptest! {
    #[test]
    fn cursor_and_splitting_decoders_agree(
        stream in prop::collection::vec(
            prop_oneof![
                Just(b'\n'), Just(b'\r'), Just(b' '), Just(b'<'), b'0'..=b'9', b'a'..=b'c'
            ],
            0..300,
        ),
        cuts in prop::collection::vec(1usize..40, 1..20),
        drop_every in 1usize..4,
        max_frame in 1usize..24,
        counted in any::<bool>(),
    ) {
        let mut chunks = Vec::new();
        let mut rest = &stream[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*cut).min(rest.len()));
            chunks.push(chunk);
            rest = tail;
        }
        let make = || if counted {
            Deframer::with_framing(Framing::OctetCounting, max_frame)
        } else {
            Deframer::new(max_frame)
        };
        let expected = run(&mut make(), &chunks);
        let got = run_at(&mut make(), &chunks, drop_every);
        prop_assert_eq!(got, expected);
    }
}
