//! Tests of file naming and the index encoding.

use super::*;

#[test]
fn names_segments_by_zero_padded_first_seq() {
    assert_eq!(file_name(1, FileKind::Log), "00000000000000000001.log");
    assert_eq!(file_name(42, FileKind::Zst), "00000000000000000042.log.zst");
    assert_eq!(file_name(7, FileKind::Index), "00000000000000000007.idx");
    assert_eq!(
        file_name(7, FileKind::CompressTemp),
        ".00000000000000000007.log.zst.tmp"
    );
    assert_eq!(
        file_name(u64::MAX, FileKind::Log),
        "18446744073709551615.log"
    );
}

#[test]
fn parses_what_it_names_and_nothing_else() {
    for kind in [
        FileKind::Log,
        FileKind::Zst,
        FileKind::Index,
        FileKind::CompressTemp,
    ] {
        for seq in [0, 1, 99, u64::MAX] {
            assert_eq!(parse_file_name(&file_name(seq, kind)), Some((seq, kind)));
        }
    }
    for other in [
        "messages",
        "0001.log",
        "00000000000000000001.txt",
        ".00000000000000000001.log",
        "00000000000000000001.log.zst.tmp",
        "99999999999999999999.log",
        "+0000000000000000001.log",
        "",
    ] {
        assert_eq!(parse_file_name(other), None, "{other:?}");
    }
}

#[test]
fn index_round_trips_and_stops_at_garbage() {
    let header = IndexHeader {
        first_seq: 10,
        created_micros: 1_700_000_000_000_000,
        message_time: true,
    };
    let records = [
        IndexRecord {
            max_timestamp_micros: 5,
            seq: 10,
            offset: 0,
        },
        IndexRecord {
            max_timestamp_micros: 9,
            seq: 20,
            offset: 4000,
        },
        IndexRecord {
            max_timestamp_micros: i64::MAX,
            seq: 30,
            offset: 9000,
        },
    ];
    let mut bytes = header.encode().to_vec();
    for record in &records {
        bytes.extend_from_slice(&record.encode());
    }
    let (decoded_header, decoded) = decode_index(&bytes, 10).unwrap();
    assert_eq!(decoded_header, header);
    assert_eq!(decoded, records);
    assert!(decode_index(&bytes, 11).is_none());

    let mut torn = bytes.clone();
    torn.truncate(bytes.len() - 5);
    assert_eq!(decode_index(&torn, 10).unwrap().1, records[..2]);

    let mut flipped = bytes.clone();
    flipped[INDEX_HEADER_LEN + INDEX_RECORD_LEN + 3] ^= 0x40;
    assert_eq!(decode_index(&flipped, 10).unwrap().1, records[..1]);

    let mut disordered = header.encode().to_vec();
    disordered.extend_from_slice(&records[1].encode());
    disordered.extend_from_slice(&records[0].encode());
    assert_eq!(decode_index(&disordered, 10).unwrap().1, records[1..2]);

    let mut other_version = bytes.clone();
    other_version[8] = 2;
    assert!(decode_index(&other_version, 10).is_none());
    assert!(decode_index(b"short", 10).is_none());
}

#[test]
fn an_index_without_the_message_time_flag_is_keyed_by_receive_time() {
    let header = IndexHeader {
        first_seq: 1,
        created_micros: 7,
        message_time: true,
    };
    let mut bytes = header.encode();
    assert_eq!(&bytes[14..16], &[1, 0]);
    // As sinkd wrote it before the flag: bytes 14..16 zero.
    bytes[14] = 0;
    let decoded = IndexHeader::decode(&bytes).unwrap();
    assert!(!decoded.message_time);
    assert_eq!((decoded.first_seq, decoded.created_micros), (1, 7));
}

#[test]
fn names_pushed_onto_a_path_match_the_file_names() {
    for kind in [
        FileKind::Log,
        FileKind::Zst,
        FileKind::Index,
        FileKind::CompressTemp,
    ] {
        for seq in [0, 1, 42, 9_999_999_999, u64::MAX] {
            let mut path = b"sw1/messages/".to_vec();
            push_file_name(seq, kind, &mut path);
            let expected = format!("sw1/messages/{}", file_name(seq, kind));
            assert_eq!(path, expected.as_bytes());
        }
    }
}
