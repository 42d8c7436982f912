//! Reading: seeking by sequence number and time, following a growing
//! stream across rotation, listing streams.

use crate::support::*;
use sinkd_store::{list_devices, list_streams, AppendBatch, Store, StreamReader};
use std::path::Path;

/// A store with small segments and a dense index, holding lines
/// "line 0".."line 999" with timestamp = 1000 * i.
fn indexed_store(dir: &Path) -> Store {
    indexed_lines(dir, 2000, 1000, |i| i * 1000)
}

#[test]
fn seeks_by_sequence_number_across_compressed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let store = indexed_store(dir.path());
    let mut reader = StreamReader::open(dir.path(), "s").unwrap();
    assert!(reader.segments().len() >= 4);
    for seq in [1u64, 2, 137, 500, 999, 1000] {
        reader.seek_seq(seq).unwrap();
        let (got, line) = reader.next_line().unwrap().unwrap();
        assert_eq!((got, line), (seq, format!("line {}", seq - 1).as_bytes()));
    }
    reader.seek_seq(1001).unwrap();
    assert!(reader.next_line().unwrap().is_none());
    store.shutdown().unwrap();
}

#[test]
fn seeks_by_time_without_missing_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = indexed_store(dir.path());
    let mut reader = StreamReader::open(dir.path(), "s").unwrap();
    for target in [0i64, 1, 250, 612, 999] {
        reader.seek_time(target * 1000).unwrap();
        let (seq, _) = reader.next_line().unwrap().unwrap();
        let first_match = target as u64 + 1;
        assert!(
            seq <= first_match,
            "started after the target: {seq} > {first_match}"
        );
        // "line NNN\n" is at most 9 bytes: an index interval of 100 bytes
        // spans at most 13 lines (one record may be up to a line late).
        assert!(
            first_match - seq <= 13,
            "started too early: {seq} for {first_match}"
        );
        let mut expected_seq = seq + 1;
        while let Some((next, _)) = reader.next_line().unwrap() {
            assert_eq!(next, expected_seq);
            expected_seq += 1;
        }
        assert_eq!(expected_seq, 1001);
    }
    // Nothing is that new; the active segment has no end record yet, so at
    // most one index interval of older lines comes back.
    reader.seek_time(5_000_000).unwrap();
    assert!(drain(&mut reader).len() <= 13);
    store.shutdown().unwrap();
    // After a clean shutdown every segment has an end record; still exact.
    let mut reader = StreamReader::open(dir.path(), "s").unwrap();
    reader.seek_time(999_000).unwrap();
    let (seq, _) = reader.next_line().unwrap().unwrap();
    assert!((988..=1000).contains(&seq), "{seq}");
    reader.seek_time(5_000_000).unwrap();
    assert_eq!(
        reader.next_line().unwrap(),
        None,
        "end records make this exact"
    );
}

#[test]
fn follows_a_stream_while_it_grows_and_rotates() {
    let (dir, store) = temp_store_with(|config| small_segments(config, 64));
    write_lines(&store, "f", "a", 0..5);
    store.sync().unwrap();
    let mut reader = StreamReader::open(dir.path(), "f").unwrap();
    let mut seen = drain(&mut reader);
    assert_eq!(seen, expected("a", 1..6, 0));
    for round in 1..4u64 {
        write_lines(&store, "f", "a", round * 5..round * 5 + 5);
        store.sync().unwrap();
        seen.extend(drain(&mut reader));
    }
    assert_eq!(seen, expected("a", 1..21, 0));
    store.shutdown().unwrap();
}

#[test]
fn lists_streams_with_their_extent() {
    let (dir, store) = temp_store_with(|config| config.segment_max_bytes = 100);
    write_lines(&store, "fw/edge1/local7.log", "line", 10..40);
    write_lines(&store, "router1/messages", "x", 0..1);
    store.shutdown().unwrap();
    std::fs::create_dir_all(dir.path().join("empty/dir")).unwrap();
    // A relay spool is a store of its own under a hidden directory.
    let spool = open(&dir.path().join(".relay/r1"));
    write_lines(&spool, "queue", "q", 0..3);
    spool.shutdown().unwrap();
    let streams = list_streams(dir.path()).unwrap();
    let summary: Vec<(&str, usize, u64, Option<u64>)> = streams
        .iter()
        .map(|info| {
            (
                info.path.as_str(),
                info.segments,
                info.first_seq,
                info.last_seq,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("fw/edge1/local7.log", 3, 1, Some(30)),
            ("router1/messages", 1, 1, Some(1))
        ]
    );
    assert!(streams
        .iter()
        .all(|info| info.total_bytes > 0 && info.last_modified.is_some()));
}

#[test]
fn lists_devices_with_their_files() {
    let (dir, store) = temp_store();
    let writer = store.writer();
    let mut batch = AppendBatch::new();
    batch.push("sw2/messages", 1, b"a");
    batch.push("sw1/messages", 2, b"bb");
    batch.push("sw1/auth.log", 3, b"ccc");
    batch.push("lonely", 4, b"d");
    batch.push("fw/kern", 5, b"e");
    writer.submit(batch).unwrap();
    store.shutdown().unwrap();
    let devices = list_devices(dir.path()).unwrap();
    let names: Vec<&str> = devices.iter().map(|device| device.name.as_str()).collect();
    assert_eq!(names, ["fw", "lonely", "sw1", "sw2"]);
    let sw1 = &devices[2];
    let files: Vec<&str> = sw1.files.iter().map(|file| file.name.as_str()).collect();
    assert_eq!(files, ["auth.log", "messages"]);
    assert_eq!(sw1.file("auth.log").unwrap().stream.path, "sw1/auth.log");
    assert_eq!(sw1.default_file().unwrap().name, "messages");
    assert!(sw1.total_bytes() >= 7);
    assert!(sw1.last_modified().is_some());
    // Without `messages`, the only file is the default.
    assert_eq!(devices[0].default_file().unwrap().stream.path, "fw/kern");
    assert_eq!(devices[1].default_file().unwrap().stream.path, "lonely");
    assert!(list_devices(&dir.path().join("missing")).is_err());
    // One device, read from its own directory, is what the whole listing
    // has for it.
    for device in &devices {
        let found = sinkd_store::find_device(dir.path(), &device.name).unwrap();
        assert_eq!(found.as_ref(), Some(device));
    }
    for name in ["sw3", "", ".", "..", "../sw1", "sw1/messages", ".relay"] {
        assert_eq!(
            sinkd_store::find_device(dir.path(), name).unwrap(),
            None,
            "{name:?}"
        );
    }
}

#[test]
fn damaged_files_are_reported_and_the_rest_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    indexed_store(dir.path()).shutdown().unwrap();
    let stream = dir.path().join("s");
    let segments = StreamReader::open(dir.path(), "s")
        .unwrap()
        .segments()
        .to_vec();
    assert!(segments.len() >= 5, "{segments:?}");
    let file = |seq: u64, ext: &str| stream.join(format!("{seq:020}.{ext}"));
    assert!(file(segments[1], "log.zst").exists());
    // A compressed segment cut in half, and an index that is garbage.
    let truncated = file(segments[1], "log.zst");
    cut_in_half(&truncated);
    let garbage = file(segments[2], "idx");
    std::fs::write(&garbage, vec![0xab; 200]).unwrap();

    let mut reader = StreamReader::open(dir.path(), "s").unwrap();
    assert_eq!(reader.segments(), &segments[..]);
    // A segment deleted after the reader listed it (count rotation).
    std::fs::remove_file(file(segments[3], "log.zst")).unwrap();
    let lines = drain(&mut reader);
    for (seq, line) in &lines {
        assert_eq!(line, &format!("line {}", seq - 1));
    }
    let seqs: Vec<u64> = lines.iter().map(|(seq, _)| *seq).collect();
    let in_segment = |at: usize| -> Vec<u64> {
        let end = segments.get(at + 1).copied().unwrap_or(1001);
        seqs.iter()
            .copied()
            .filter(|seq| (segments[at]..end).contains(seq))
            .collect()
    };
    for at in (0..segments.len()).filter(|at| ![1, 3].contains(at)) {
        let end = segments.get(at + 1).copied().unwrap_or(1001);
        assert_eq!(in_segment(at), (segments[at]..end).collect::<Vec<_>>());
    }
    // The truncated segment gives the lines before the damage, in order.
    let partial = in_segment(1);
    assert!(partial.len() < (segments[2] - segments[1]) as usize);
    assert_eq!(
        partial,
        (segments[1]..segments[1] + partial.len() as u64).collect::<Vec<_>>()
    );
    assert!(in_segment(3).is_empty());
    let warnings = reader.take_warnings();
    let mut named: Vec<_> = warnings.iter().map(|w| w.path.clone()).collect();
    named.sort();
    assert_eq!(
        named,
        [truncated.clone(), file(segments[3], "log")],
        "{warnings:?}"
    );
    assert!(
        warnings[0].to_string().contains("rest skipped"),
        "{warnings:?}"
    );
    assert!(reader.take_warnings().is_empty(), "reported once");

    // Seeks: into the segment without a usable index (read from its
    // start), and past the damage of the truncated one (next segment).
    let mut reader = StreamReader::open(dir.path(), "s").unwrap();
    reader.seek_seq(segments[2] + 7).unwrap();
    assert_eq!(reader.next_line().unwrap().unwrap().0, segments[2] + 7);
    let warnings = reader.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].path, garbage);
    assert!(warnings[0].reason.contains("not a valid index"));
    reader.seek_seq(segments[2] - 1).unwrap();
    assert_eq!(reader.next_line().unwrap().unwrap().0, segments[2]);
    assert_eq!(reader.take_warnings()[0].path, truncated);
    reader.seek_time(0).unwrap();
    assert_eq!(drain(&mut reader), lines);
}

#[test]
fn next_line_containing_is_next_line_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let store = indexed_store(dir.path());
    let filtered = |needle: &str, from: u64, depth: usize| {
        let finder = memchr::memmem::Finder::new(needle);
        let mut reader = StreamReader::open(dir.path(), "s").unwrap();
        reader.set_read_ahead(depth);
        reader.seek_seq(from).unwrap();
        let mut found = Vec::new();
        while let Some((seq, line)) = reader.next_line_containing(&finder).unwrap() {
            found.push((seq, String::from_utf8_lossy(line).into_owned()));
        }
        // It goes on from where the search stopped: nothing is left.
        assert!(reader.next_line().unwrap().is_none());
        found
    };
    for needle in [
        "line 1", "7", "line 999", "line 0", "ne", "", "\n", "nothing",
    ] {
        for from in [1, 333] {
            let expected: Vec<(u64, String)> = read_all(dir.path(), "s")
                .into_iter()
                .filter(|(seq, line)| *seq >= from && line.contains(needle))
                .collect();
            for depth in [0, 2] {
                assert_eq!(filtered(needle, from, depth), expected, "{needle:?} {from}");
            }
        }
    }
    store.shutdown().unwrap();
}

#[test]
fn a_torn_tail_cut_while_reading_is_read_as_it_is_now() {
    // The active segment ends in a torn line; a reader reaches it, then
    // the tail is cut (as recovery does while the store runs) and new
    // lines are written where it was: the reader neither crashes nor
    // returns the torn bytes.
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("sw/messages");
    std::fs::create_dir_all(&stream).unwrap();
    let log = stream.join(format!("{:020}.log", 1));
    std::fs::write(&log, b"one\ntwo\ntorn-and-long-enough").unwrap();
    let mut reader = sinkd_store::StreamReader::open(dir.path(), "sw/messages").unwrap();
    let mut lines = Vec::new();
    while let Some((seq, line)) = reader.next_line().unwrap() {
        lines.push((seq, String::from_utf8_lossy(line).into_owned()));
    }
    assert_eq!(lines, [(1, "one".to_owned()), (2, "two".to_owned())]);
    // Cut back to the last complete line, then shorter new content.
    let file = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    file.set_len(8).unwrap();
    drop(file);
    let mut append = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut append, b"three\n").unwrap();
    let (seq, line) = reader.next_line().unwrap().expect("the rewritten line");
    assert_eq!((seq, line), (3, &b"three"[..]));
    // And longer new content after another cut.
    std::io::Write::write_all(&mut append, b"torn again").unwrap();
    assert!(reader.next_line().unwrap().is_none());
    append.set_len(14).unwrap();
    std::io::Write::write_all(&mut append, b"four, a longer line than the torn one\n").unwrap();
    let (seq, line) = reader.next_line().unwrap().expect("the next line");
    assert_eq!(
        (seq, line),
        (4, &b"four, a longer line than the torn one"[..])
    );
    assert!(reader.next_line().unwrap().is_none());
}

#[test]
fn a_fifo_where_a_segment_should_be_does_not_hang_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("sw/messages");
    std::fs::create_dir_all(&stream).unwrap();
    let fifo = stream.join(format!("{:020}.log", 1));
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(status.success());
    // Returns (an error naming the file) instead of waiting for a writer.
    let mut reader = sinkd_store::StreamReader::open(dir.path(), "sw/messages").unwrap();
    let error = reader.next_line().expect_err("not a segment");
    assert!(error.to_string().contains("not a regular file"), "{error}");
}
