//! Unit tests of the RELP frame codec and the offer exchange.

use super::*;
use proptest::prelude::*;

fn decoded(input: &[u8]) -> (Frame<'_>, usize) {
    decode(input, 1024)
        .expect("valid frame")
        .expect("complete frame")
}

#[test]
fn reads_a_syslog_command() {
    let input = b"17 syslog 11 <13>a b c d\nrest";
    let (frame, used) = decoded(input);
    assert_eq!(frame.txnr, 17);
    assert_eq!(frame.command, Command::Syslog);
    assert_eq!(frame.data, b"<13>a b c d");
    assert_eq!(&input[used..], b"rest");
}

#[test]
fn reads_a_frame_without_data() {
    let (frame, used) = decoded(b"3 close 0\n");
    assert_eq!(frame.command, Command::Close);
    assert!(frame.data.is_empty());
    assert_eq!(used, 10);
}

#[test]
fn data_may_hold_line_feeds() {
    let (frame, _) = decoded(b"1 open 5 a\nb\nc\n");
    assert_eq!(frame.data, b"a\nb\nc");
}

#[test]
fn unknown_commands_are_named_other() {
    let (frame, _) = decoded(b"2 starttls 0\n");
    assert_eq!(frame.command, Command::Other);
    assert_eq!(frame.command_name, b"starttls");
}

#[test]
fn every_prefix_of_a_frame_is_incomplete() {
    let input = b"123 syslog 5 hello\n";
    for end in 0..input.len() {
        assert_eq!(
            decode(&input[..end], 1024),
            Ok(None),
            "prefix of {end} bytes"
        );
    }
}

#[test]
fn faults_name_the_field() {
    let cases: &[(&[u8], FrameError)] = &[
        (
            b"x",
            FrameError::Unexpected {
                field: Field::Txnr,
                byte: b'x',
                offset: 0,
            },
        ),
        (b" syslog", FrameError::Empty { field: Field::Txnr }),
        (
            b"1234567890 syslog",
            FrameError::TooLong {
                field: Field::Txnr,
                max: 9,
            },
        ),
        (
            b"1 sys-log",
            FrameError::Unexpected {
                field: Field::Command,
                byte: b'-',
                offset: 5,
            },
        ),
        (
            b"1  0\n",
            FrameError::Empty {
                field: Field::Command,
            },
        ),
        (
            b"1 abcdefghijklmnopqrstuvwxyzabcdefg 0\n",
            FrameError::TooLong {
                field: Field::Command,
                max: 32,
            },
        ),
        (
            b"1 syslog x",
            FrameError::Unexpected {
                field: Field::Datalen,
                byte: b'x',
                offset: 9,
            },
        ),
        (
            b"1 syslog 5\n",
            FrameError::Unexpected {
                field: Field::Datalen,
                byte: b'\n',
                offset: 10,
            },
        ),
        (
            b"1 syslog 2 abc",
            FrameError::Unexpected {
                field: Field::Trailer,
                byte: b'c',
                offset: 13,
            },
        ),
        (
            b"1 close 0 \n",
            FrameError::Unexpected {
                field: Field::Trailer,
                byte: b' ',
                offset: 9,
            },
        ),
        (
            b"1 syslog 999999999 ",
            FrameError::TooLarge {
                datalen: 999_999_999,
                max: 1024,
            },
        ),
        (
            b"1 syslog 1234567890",
            FrameError::TooLong {
                field: Field::Datalen,
                max: 9,
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            decode(input, 1024),
            Err(*expected),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn a_large_datalen_fails_before_its_data_arrives() {
    let error = decode(b"1 syslog 1025 ", 1024).unwrap_err();
    assert!(error.is_too_large());
    assert_eq!(
        error.to_string(),
        "RELP DATALEN 1025 is above the limit of 1024 bytes"
    );
    assert_eq!(decode(b"1 syslog 1024 ", 1024), Ok(None));
}

#[test]
fn writes_the_server_frames() {
    let mut out = Vec::new();
    encode_ok(&mut out, 5);
    encode_close_reply(&mut out, 6);
    encode_serverclose(&mut out);
    encode_error(&mut out, 7, "no\nway");
    assert_eq!(
        out,
        b"5 rsp 6 200 OK\n6 rsp 0\n0 serverclose 0\n7 rsp 9 500 noway\n".to_vec()
    );
}

#[test]
fn txnr_wraps_after_its_maximum() {
    assert_eq!(next_txnr(1), 2);
    assert_eq!(next_txnr(MAX_TXNR), 1);
}

#[test]
fn reads_librelp_offers_and_answers_them() {
    let data =
        b"relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog";
    let offers = read_offers(data).unwrap();
    assert_eq!(
        offers,
        Offers {
            relp_version: 0,
            syslog: true
        }
    );
    let mut out = Vec::new();
    encode_open_reply(&mut out, 1, &offers, "sinkd,0.1");
    let (frame, _) = decoded(&out);
    assert_eq!(frame.txnr, 1);
    assert_eq!(frame.command_name, b"rsp");
    assert_eq!(
        frame.data,
        b"200 OK\nrelp_version=0\nrelp_software=sinkd,0.1\ncommands=syslog"
    );
    let newer = read_offers(b"relp_version=7\ncommands=eventlog").unwrap();
    assert_eq!(newer.relp_version, 7);
    assert!(!newer.syslog);
    out.clear();
    encode_open_reply(&mut out, 1, &newer, "s");
    assert!(decoded(&out)
        .0
        .data
        .starts_with(b"200 OK\nrelp_version=1\n"));
}

#[test]
fn offers_need_a_numeric_version() {
    assert_eq!(read_offers(b"commands=syslog"), Err(OfferError::NoVersion));
    assert_eq!(read_offers(b"relp_version=x"), Err(OfferError::BadVersion));
}

proptest! {
    #[test]
    fn encoded_frames_decode_to_themselves(
        txnr in 0u32..=MAX_TXNR,
        command in "[a-zA-Z]{1,32}",
        data in proptest::collection::vec(any::<u8>(), 0..300),
        tail in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut input = Vec::new();
        encode(&mut input, txnr, &command, &data);
        let frame_len = input.len();
        input.extend_from_slice(&tail);
        let (frame, used) = decode(&input, 300).unwrap().unwrap();
        prop_assert_eq!(used, frame_len);
        prop_assert_eq!(frame.txnr, txnr);
        prop_assert_eq!(frame.command_name, command.as_bytes());
        prop_assert_eq!(frame.data, &data[..]);
    }

    #[test]
    fn decoding_never_panics_and_stays_in_bounds(input in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(Some((frame, used))) = decode(&input, 100) {
            prop_assert!(used <= input.len());
            prop_assert!(frame.data.len() <= 100);
        }
    }
}
