//! Parsing `/proc` text and counting output lines.

use super::{
    count_lines, is_output_file, parse_io_wchar, parse_stat_cpu, parse_status_hwm, table_has_port,
    written_bytes,
};
use std::io::Write as _;

#[test]
fn stat_cpu_counts_from_the_last_parenthesis() {
    let stat = "4242 (rs:main Q:Reg) S 1 4242 4242 0 -1 4194560 1234 0 0 0 350 125 0 0 20 0 5 0 100 1000 200";
    assert_eq!(parse_stat_cpu(stat), Some(475));
    let odd = "7 (a) b) (c) R 1 7 7 0 -1 0 0 0 0 0 10 20 0 0";
    assert_eq!(parse_stat_cpu(odd), Some(30));
    assert_eq!(parse_stat_cpu("garbage"), None);
}

#[test]
fn status_hwm_in_kib() {
    let status = "Name:\tsinkd\nVmPeak:\t  900 kB\nVmHWM:\t   51234 kB\nVmRSS:\t 40000 kB\n";
    assert_eq!(parse_status_hwm(status), Some(51234));
    assert_eq!(parse_status_hwm("Name: x\n"), None);
}

#[test]
fn io_wchar_in_bytes() {
    let io = "rchar: 12\nwchar: 3456789\nsyscr: 1\nsyscw: 2\nread_bytes: 0\nwrite_bytes: 4096\n";
    assert_eq!(parse_io_wchar(io), Some(3_456_789));
    assert_eq!(parse_io_wchar("rchar: 1\n"), None);
    // This process has written its test output by now, or at least can be
    // read.
    assert!(written_bytes(std::process::id()).is_ok());
}

#[test]
fn proc_net_tables_find_listening_ports() {
    let tcp = "  sl  local_address rem_address   st tx_queue rx_queue\n   0: 0100007F:15BA 00000000:0000 0A 00000000:00000000\n   1: 0100007F:15BB 0100007F:9C40 01 00000000:00000000\n";
    assert!(table_has_port(tcp, 0x15BA, true));
    assert!(
        !table_has_port(tcp, 0x15BB, true),
        "established is not listening"
    );
    assert!(table_has_port(tcp, 0x15BB, false));
    assert!(!table_has_port(tcp, 80, false));
}

#[test]
fn output_files_are_peer_messages_and_sinkd_segments() {
    assert!(is_output_file("messages"));
    assert!(is_output_file("00000000000000000001.log"));
    assert!(is_output_file("00000000000000000001.log.zst"));
    assert!(!is_output_file("00000000000000000001.idx"));
    assert!(!is_output_file(".00000000000000000001.log.zst.tmp"));
}

#[test]
fn counts_lines_across_plain_and_compressed_files_and_devices() {
    let dir = tempfile::tempdir().unwrap();
    let peer = dir.path().join("sw-00001");
    std::fs::create_dir_all(&peer).unwrap();
    std::fs::write(peer.join("messages"), "a\nb\nc\n").unwrap();
    let segments = dir.path().join("rtr-00002/messages");
    std::fs::create_dir_all(&segments).unwrap();
    std::fs::write(segments.join("00000000000000000004.log"), "d\ne\n").unwrap();
    std::fs::write(segments.join("00000000000000000004.idx"), "\n\n\n\n").unwrap();
    let mut encoder = zstd::stream::write::Encoder::new(
        std::fs::File::create(segments.join("00000000000000000001.log.zst")).unwrap(),
        3,
    )
    .unwrap();
    encoder.write_all(b"x\ny\nz\n").unwrap();
    encoder.finish().unwrap();
    assert_eq!(count_lines(dir.path()).unwrap(), (8, 2));
    assert_eq!(count_lines(&dir.path().join("missing")).unwrap(), (0, 0));
}
