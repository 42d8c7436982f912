//! The device corpus: one file per vendor or sender under `tests/data/`,
//! each line one message as that sender puts it on the wire.
//!
//! Every file is parsed with the public [`sinkd_proto::parse`] and the
//! fields are compared with an `expect!` snapshot, so a change in what the
//! parser makes of real traffic shows up as a readable diff
//! (`UPDATE_EXPECT=1 cargo test -p sinkd-proto` rewrites the snapshots;
//! review them before committing). Lines starting with `#` are comments.
//! Each message is printed as its raw line, then the format, PRI,
//! timestamp and header fields (`-` when absent), then `msg`.
//!
//! The same lines also feed a robustness check: every prefix of every
//! message must parse without panicking and keep `msg` a suffix of the input.

use expect_test::{expect, Expect};
use sinkd_proto::{parse, Format, Message, ReceiveTime, Timestamp};
use std::fmt::Write as _;
use std::path::Path;

/// All files under `tests/data/`, each with a test below.
const DATA_FILES: [&str; 16] = [
    "arista-eos.txt",
    "busybox.txt",
    "cisco-asa.txt",
    "cisco-ios.txt",
    "cisco-iosxr.txt",
    "cisco-nxos.txt",
    "clavister.txt",
    "conformance.jsonl",
    "dell-powerconnect.txt",
    "fortinet.txt",
    "juniper.txt",
    "logger.txt",
    "rfc3164.txt",
    "rsyslog.txt",
    "weos.txt",
    "windows.txt",
];

/// The collector's clock for every corpus message: 2026-03-08 10:00:00 at
/// UTC+01:00, so a November message belongs to 2025.
pub(crate) fn received() -> ReceiveTime {
    let utc = Timestamp {
        year: 2026,
        month: 3,
        day: 8,
        hour: 9,
        minute: 0,
        second: 0,
        nanos: 0,
        frac_digits: 0,
        offset_minutes: 0,
    };
    ReceiveTime::new(utc.unix_seconds(), 0, 60)
}

fn field(value: Option<&str>) -> &str {
    value.unwrap_or("-")
}

fn render(message: &Message<'_>, out: &mut String) {
    let timestamp = message
        .timestamp
        .map_or_else(|| "-".to_owned(), |ts| ts.to_string());
    let _ = writeln!(
        out,
        "  {} {}.{} {} host={} app={} pid={} msgid={}",
        message.format.name(),
        message.facility,
        message.severity,
        timestamp,
        field(message.hostname),
        field(message.app_name),
        field(message.procid),
        field(message.msgid),
    );
    let _ = writeln!(out, "  msg={}", escape(message.msg));
}

/// Printable ASCII as is, everything else (and `\\`) escaped.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(byte)),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    out
}

fn check(input: &str, expect: Expect) {
    let received = received();
    let mut out = String::new();
    for line in input.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}", escape(line.as_bytes()));
        render(&parse(line.as_bytes(), &received), &mut out);
    }
    expect.assert_eq(&out);
}

fn data_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

#[test]
fn every_data_file_is_listed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(data_dir())
        .expect("tests/data exists")
        .map(|entry| {
            entry
                .expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, DATA_FILES);
}

/// Parses every prefix of every corpus line (and the line with a trailing
/// LF) and checks the invariants a collector relies on.
#[test]
fn truncated_messages_parse_safely() {
    let received = received();
    for name in DATA_FILES {
        let text = std::fs::read(data_dir().join(name)).expect("readable data file");
        for line in text.split(|&b| b == b'\n') {
            if line.first() == Some(&b'#') {
                continue;
            }
            let mut framed = line.to_vec();
            framed.push(b'\n');
            for end in 0..=framed.len() {
                let raw = &framed[..end];
                let message = parse(raw, &received);
                assert!(std::ptr::eq(message.raw, raw), "{name}: raw is the input");
                let mut trimmed_len = raw.len();
                while trimmed_len > 0 && matches!(raw[trimmed_len - 1], b'\n' | b'\r' | 0) {
                    trimmed_len -= 1;
                }
                if matches!(message.format, Format::Bsd | Format::Rfc3164) {
                    let msg_end = message.msg.as_ptr() as usize + message.msg.len();
                    assert_eq!(
                        msg_end,
                        raw.as_ptr() as usize + trimmed_len,
                        "{name}: msg must run to the end of {:?}",
                        raw.escape_ascii().to_string()
                    );
                }
                if message.format == Format::Rfc3164 {
                    assert!(message.timestamp.is_some_and(|ts| ts.is_valid()));
                }
            }
        }
    }
}

#[test]
fn rfc3164_examples() {
    check(
        include_str!("../data/rfc3164.txt"),
        expect![[r#"
            <34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8
              rfc3164 auth.crit 2025-10-11T22:14:15+01:00 host=mymachine app=su pid=- msgid=-
              msg='su root' failed for lonvick on /dev/pts/8
            Use the BFG!
              unparsed user.notice - host=- app=- pid=- msgid=-
              msg=Use the BFG!
            <13>Feb  5 17:32:18 10.0.0.99 Use the BFG!
              rfc3164 user.notice 2026-02-05T17:32:18+01:00 host=10.0.0.99 app=Use pid=- msgid=-
              msg=the BFG!
            <165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # Devices: Mixer=OK, Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, Conveyer2=OK # %%
              rfc3164 local4.notice 1987-08-24T05:34:00-06:00 host=mymachine app=myproc pid=10 msgid=-
              msg=%% It's time to make the do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # Devices: Mixer=OK, Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, Conveyer2=OK # %%
            <0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!
              rfc3164 kern.emerg 1990-10-22T10:52:01-06:00 host=scapegoat.dmz.example.org app=10.1.2.3 pid=- msgid=-
              msg=sched[0]: That's All Folks!
            <0>Oct 22 10:52:12 scapegoat 1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!
              rfc3164 kern.emerg 2025-10-22T10:52:12+01:00 host=scapegoat app=- pid=- msgid=-
              msg=1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!
        "#]],
    );
}

#[test]
fn arista_eos() {
    check(
        include_str!("../data/arista-eos.txt"),
        expect![[r#"
        <181>Mar  8 09:15:32 leaf1.dc1 Ebra: %LINEPROTO-5-UPDOWN: Line protocol on Interface Ethernet12 (uplink-spine1), changed state to up
          rfc3164 local6.notice 2026-03-08T09:15:32+01:00 host=leaf1.dc1 app=Ebra pid=- msgid=LINEPROTO-5-UPDOWN
          msg=%LINEPROTO-5-UPDOWN: Line protocol on Interface Ethernet12 (uplink-spine1), changed state to up
        <187>Mar  8 09:15:33 leaf1.dc1 Lldp: %LLDP-5-NEIGHBOR_NEW: LLDP neighbor with chassisId 001c.7300.1234 and portId "Ethernet1" added on interface Ethernet12
          rfc3164 local7.err 2026-03-08T09:15:33+01:00 host=leaf1.dc1 app=Lldp pid=- msgid=LLDP-5-NEIGHBOR_NEW
          msg=%LLDP-5-NEIGHBOR_NEW: LLDP neighbor with chassisId 001c.7300.1234 and portId "Ethernet1" added on interface Ethernet12
        <189>Mar  8 09:15:34 leaf1.dc1 ConfigAgent: %SYS-5-CONFIG_E: Enter configuration mode from console by admin on vty3 (10.0.0.5)
          rfc3164 local7.notice 2026-03-08T09:15:34+01:00 host=leaf1.dc1 app=ConfigAgent pid=- msgid=SYS-5-CONFIG_E
          msg=%SYS-5-CONFIG_E: Enter configuration mode from console by admin on vty3 (10.0.0.5)
    "#]],
    );
}

#[test]
fn busybox() {
    check(
        include_str!("../data/busybox.txt"),
        expect![[r#"
        <30>Mar  8 09:15:32 udhcpc[412]: sending discover
          rfc3164 daemon.info 2026-03-08T09:15:32+01:00 host=- app=udhcpc pid=412 msgid=-
          msg=sending discover
        <13>Mar  8 09:15:33 root: hello from the shell
          rfc3164 user.notice 2026-03-08T09:15:33+01:00 host=- app=root pid=- msgid=-
          msg=hello from the shell
        <4>Mar  8 09:15:34 kernel: eth0: link up, 100Mbps, full-duplex
          rfc3164 kern.warning 2026-03-08T09:15:34+01:00 host=- app=kernel pid=- msgid=-
          msg=eth0: link up, 100Mbps, full-duplex
        <38>Mar  8 09:15:35 dropbear[998]: Password auth succeeded for 'root' from 192.168.1.10:50122
          rfc3164 auth.info 2026-03-08T09:15:35+01:00 host=- app=dropbear pid=998 msgid=-
          msg=Password auth succeeded for 'root' from 192.168.1.10:50122
        <75>Mar  8 09:15:36 crond[600]: USER root pid 1001 cmd run-parts /etc/periodic/15min
          rfc3164 cron.err 2026-03-08T09:15:36+01:00 host=- app=crond pid=600 msgid=-
          msg=USER root pid 1001 cmd run-parts /etc/periodic/15min
    "#]],
    );
}

#[test]
fn cisco_asa() {
    check(
        include_str!("../data/cisco-asa.txt"),
        expect![[r#"
            <166>Mar 08 2026 09:15:32: %ASA-6-302013: Built outbound TCP connection 81234 for outside:198.51.100.25/443 (198.51.100.25/443) to inside:10.0.0.44/51514 (203.0.113.5/51514)
              rfc3164 local4.info 2026-03-08T09:15:32+01:00 host=- app=%ASA-6-302013 pid=- msgid=ASA-6-302013
              msg=Built outbound TCP connection 81234 for outside:198.51.100.25/443 (198.51.100.25/443) to inside:10.0.0.44/51514 (203.0.113.5/51514)
            <166>Mar 08 2026 09:15:33 asa01 : %ASA-6-302014: Teardown TCP connection 81234 for outside:198.51.100.25/443 to inside:10.0.0.44/51514 duration 0:00:01 bytes 4312 TCP FINs
              rfc3164 local4.info 2026-03-08T09:15:33+01:00 host=asa01 app=%ASA-6-302014 pid=- msgid=ASA-6-302014
              msg=Teardown TCP connection 81234 for outside:198.51.100.25/443 to inside:10.0.0.44/51514 duration 0:00:01 bytes 4312 TCP FINs
            <164>Mar  8 2026 09:15:34 fw-edge.example.net : %ASA-4-106023: Deny tcp src outside:203.0.113.77/40112 dst inside:10.0.0.10/22 by access-group "OUTSIDE_IN" [0x0, 0x0]
              rfc3164 local4.warning 2026-03-08T09:15:34+01:00 host=fw-edge.example.net app=%ASA-4-106023 pid=- msgid=ASA-4-106023
              msg=Deny tcp src outside:203.0.113.77/40112 dst inside:10.0.0.10/22 by access-group "OUTSIDE_IN" [0x0, 0x0]
            <166>%ASA-6-305011: Built dynamic TCP translation from inside:10.0.0.44/51515 to outside:203.0.113.5/51515
              bsd local4.info - host=- app=%ASA-6-305011 pid=- msgid=ASA-6-305011
              msg=Built dynamic TCP translation from inside:10.0.0.44/51515 to outside:203.0.113.5/51515
            <166>2026-03-08T08:15:35Z asa01 : %ASA-6-725001: Starting SSL handshake with client outside:198.51.100.80/50122 to 203.0.113.5/443 for TLS session
              rfc3164 local4.info 2026-03-08T08:15:35Z host=asa01 app=%ASA-6-725001 pid=- msgid=ASA-6-725001
              msg=Starting SSL handshake with client outside:198.51.100.80/50122 to 203.0.113.5/443 for TLS session
            <163>Mar  8 09:15:36 10.0.0.2 %ASA-3-710003: TCP access denied by ACL from 192.0.2.200/51000 to outside:203.0.113.5/22
              rfc3164 local4.err 2026-03-08T09:15:36+01:00 host=10.0.0.2 app=%ASA-3-710003 pid=- msgid=ASA-3-710003
              msg=TCP access denied by ACL from 192.0.2.200/51000 to outside:203.0.113.5/22
        "#]],
    );
}

#[test]
fn cisco_ios() {
    check(
        include_str!("../data/cisco-ios.txt"),
        expect![[r#"
            <189>123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured from console by vty0 (10.0.0.5)
              rfc3164 local7.notice 2026-03-01T18:46:11.123+01:00 host=- app=%SYS-5-CONFIG_I pid=- msgid=SYS-5-CONFIG_I
              msg=Configured from console by vty0 (10.0.0.5)
            <189>124: router1: *Mar  1 18:46:12.456: %SYS-5-CONFIG_I: Configured from console by console
              rfc3164 local7.notice 2026-03-01T18:46:12.456+01:00 host=router1 app=%SYS-5-CONFIG_I pid=- msgid=SYS-5-CONFIG_I
              msg=Configured from console by console
            <187>4567: Mar  8 09:15:31.987 CET: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down
              rfc3164 local7.err 2026-03-08T09:15:31.987+01:00 host=- app=%LINK-3-UPDOWN pid=- msgid=LINK-3-UPDOWN
              msg=Interface GigabitEthernet0/1, changed state to down
            <189>4568: Mar  8 2026 09:15:32.004 CET: %LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet0/1, changed state to down
              rfc3164 local7.notice 2026-03-08T09:15:32.004+01:00 host=- app=%LINEPROTO-5-UPDOWN pid=- msgid=LINEPROTO-5-UPDOWN
              msg=Line protocol on Interface GigabitEthernet0/1, changed state to down
            <189>4569: .Mar  8 09:15:33.120 UTC: %SYS-6-CLOCKUPDATE: System clock has been updated from 09:15:33 UTC Sun Mar 8 2026 to 10:15:33 CET Sun Mar 8 2026, configured from console by admin.
              rfc3164 local7.notice 2026-03-08T09:15:33.120Z host=- app=%SYS-6-CLOCKUPDATE pid=- msgid=SYS-6-CLOCKUPDATE
              msg=System clock has been updated from 09:15:33 UTC Sun Mar 8 2026 to 10:15:33 CET Sun Mar 8 2026, configured from console by admin.
            <190>25: 00:01:23: %SEC-6-IPACCESSLOGP: list 101 denied tcp 10.1.1.1(1234) -> 10.2.2.2(23), 1 packet
              bsd local7.info - host=- app=%SEC-6-IPACCESSLOGP pid=- msgid=SEC-6-IPACCESSLOGP
              msg=list 101 denied tcp 10.1.1.1(1234) -> 10.2.2.2(23), 1 packet
            <189>26: 1w2d: %DUAL-5-NBRCHANGE: EIGRP-IPv4 100: Neighbor 10.0.12.2 (GigabitEthernet0/0) is up: new adjacency
              bsd local7.notice - host=- app=%DUAL-5-NBRCHANGE pid=- msgid=DUAL-5-NBRCHANGE
              msg=EIGRP-IPv4 100: Neighbor 10.0.12.2 (GigabitEthernet0/0) is up: new adjacency
            <189>27: %SYS-5-CONFIG_I: Configured from console by vty1 (10.0.0.6)
              bsd local7.notice - host=- app=%SYS-5-CONFIG_I pid=- msgid=SYS-5-CONFIG_I
              msg=Configured from console by vty1 (10.0.0.6)
            <189>%SYS-5-RESTART: System restarted --
              bsd local7.notice - host=- app=%SYS-5-RESTART pid=- msgid=SYS-5-RESTART
              msg=System restarted --
            <189>Mar  8 09:15:32 10.0.0.1 4570: *Mar  8 09:15:31.987: %C4K_EBM-4-HOSTFLAPPING: Host 00:11:22:33:44:55 in vlan 10 is flapping between port Gi1/0/1 and port Gi1/0/2
              rfc3164 local7.notice 2026-03-08T09:15:32+01:00 host=10.0.0.1 app=%C4K_EBM-4-HOSTFLAPPING pid=- msgid=C4K_EBM-4-HOSTFLAPPING
              msg=Host 00:11:22:33:44:55 in vlan 10 is flapping between port Gi1/0/1 and port Gi1/0/2
            <189>Mar  8 09:15:32 4571: Mar  8 09:15:31.990 CET: %ILPOWER-7-DETECT: Interface Gi1/0/7: Power Device detected: IEEE PD
              rfc3164 local7.notice 2026-03-08T09:15:32+01:00 host=- app=%ILPOWER-7-DETECT pid=- msgid=ILPOWER-7-DETECT
              msg=Interface Gi1/0/7: Power Device detected: IEEE PD
            <189>Mar  8 09:15:33 router1 %SYS-5-CONFIG_I: Configured from memory by console
              rfc3164 local7.notice 2026-03-08T09:15:33+01:00 host=router1 app=%SYS-5-CONFIG_I pid=- msgid=SYS-5-CONFIG_I
              msg=Configured from memory by console
            <189>38: [syslog@9 s_id="sw1:666"]: *Mar  2 00:14:37: %LINK-5-CHANGED: Interface GigabitEthernet0/4, changed state to administratively down
              rfc3164 local7.notice 2026-03-02T00:14:37+01:00 host=- app=%LINK-5-CHANGED pid=- msgid=LINK-5-CHANGED
              msg=Interface GigabitEthernet0/4, changed state to administratively down
            <131>31: cc-rtr-a: Mar  7 2026 22:10:05.512 +0100: %ICM_Router_CallRouter-3-10500FE: [comp=Router-A][pname=rtr][iid=inst1][sev=error]: Side A rtr process lost its peer.
              rfc3164 local0.err 2026-03-07T22:10:05.512+01:00 host=cc-rtr-a app=%ICM_Router_CallRouter-3-10500FE pid=- msgid=ICM_Router_CallRouter-3-10500FE
              msg=[comp=Router-A][pname=rtr][iid=inst1][sev=error]: Side A rtr process lost its peer.
            <13>42: the answer
              bsd user.notice - host=- app=- pid=- msgid=-
              msg=42: the answer
        "#]],
    );
}

#[test]
fn cisco_iosxr() {
    check(
        include_str!("../data/cisco-iosxr.txt"),
        expect![[r#"
        <190>881204: xr-pe1 RP/0/RSP0/CPU0:2026 Mar  8 09:15:32.417 CET: sshd_[66012]: %SECURITY-SSHD-6-INFO_SUCCESS : Successfully authenticated user 'netops' from '10.20.0.7' on 'vty0'(cipher 'aes128-ctr', mac 'hmac-sha2-256')
          rfc3164 local7.info 2026-03-08T09:15:32.417+01:00 host=xr-pe1 app=sshd_ pid=66012 msgid=SECURITY-SSHD-6-INFO_SUCCESS
          msg=%SECURITY-SSHD-6-INFO_SUCCESS : Successfully authenticated user 'netops' from '10.20.0.7' on 'vty0'(cipher 'aes128-ctr', mac 'hmac-sha2-256')
        <189>881210: xr-pe1 RP/0/RSP0/CPU0:Mar  8 09:15:40.002 CET: bgp[1052]: %ROUTING-BGP-5-ADJCHANGE : neighbor 192.0.2.9 Up (VRF: default) (AS: 64500)
          rfc3164 local7.notice 2026-03-08T09:15:40.002+01:00 host=xr-pe1 app=bgp pid=1052 msgid=ROUTING-BGP-5-ADJCHANGE
          msg=%ROUTING-BGP-5-ADJCHANGE : neighbor 192.0.2.9 Up (VRF: default) (AS: 64500)
        <188>881215: xr-pe1 LC/0/1/CPU0:Mar  8 09:15:41.776 CET: pfilter_ea[301]: %PKT_INFRA-PFILTER-4-IPACCESSLOGDP : access-list EDGE-IN (30) deny icmp 198.51.100.4 -> 192.0.2.1 (8/0), 1 packet
          rfc3164 local7.warning 2026-03-08T09:15:41.776+01:00 host=xr-pe1 app=pfilter_ea pid=301 msgid=PKT_INFRA-PFILTER-4-IPACCESSLOGDP
          msg=%PKT_INFRA-PFILTER-4-IPACCESSLOGDP : access-list EDGE-IN (30) deny icmp 198.51.100.4 -> 192.0.2.1 (8/0), 1 packet
    "#]],
    );
}

#[test]
fn cisco_nxos() {
    check(
        include_str!("../data/cisco-nxos.txt"),
        expect![[r#"
            <187>: 2026 Mar  8 09:15:32 UTC: %ETHPORT-5-IF_DOWN_LINK_FAILURE: Interface Ethernet1/12 is down (Link failure)
              rfc3164 local7.err 2026-03-08T09:15:32Z host=- app=%ETHPORT-5-IF_DOWN_LINK_FAILURE pid=- msgid=ETHPORT-5-IF_DOWN_LINK_FAILURE
              msg=Interface Ethernet1/12 is down (Link failure)
            <189>: 2026 Mar  8 09:16:02 CET: %VSHD-5-VSHD_SYSLOG_CONFIG_I: Configured from vty by admin on 10.0.0.5@pts/0
              rfc3164 local7.notice 2026-03-08T09:16:02+01:00 host=- app=%VSHD-5-VSHD_SYSLOG_CONFIG_I pid=- msgid=VSHD-5-VSHD_SYSLOG_CONFIG_I
              msg=Configured from vty by admin on 10.0.0.5@pts/0
            <190>: 2026 Mar 08 09:16:40 UTC: %AUTHPRIV-6-SYSTEM_MSG: pam_unix(sshd:session): session opened for user admin by (uid=0) - sshd[12345]
              rfc3164 local7.info 2026-03-08T09:16:40Z host=- app=%AUTHPRIV-6-SYSTEM_MSG pid=- msgid=AUTHPRIV-6-SYSTEM_MSG
              msg=pam_unix(sshd:session): session opened for user admin by (uid=0) - sshd[12345]
            <188>: 2026 Mar  8 09:17:11.204 UTC: %PLATFORM-4-PFM_FAN_FLTR_STATUS: Fan in Fan Module 2 (Serial number ABC1234XYZ) Fan2(sys_fan2) fault detected
              rfc3164 local7.warning 2026-03-08T09:17:11.204Z host=- app=%PLATFORM-4-PFM_FAN_FLTR_STATUS pid=- msgid=PLATFORM-4-PFM_FAN_FLTR_STATUS
              msg=Fan in Fan Module 2 (Serial number ABC1234XYZ) Fan2(sys_fan2) fault detected
        "#]],
    );
}

#[test]
fn clavister() {
    check(
        include_str!("../data/clavister.txt"),
        expect![[r#"
        <134>[2026-03-08 09:15:32] EFW: CONN: prio=1 id=00600001 rev=1 event=conn_open action=open rule=lan_to_wan conn=open connipproto=TCP connrecvif=lan connsrcip=192.168.1.20 connsrcport=51514 conndestif=wan conndestip=198.51.100.25 conndestport=443
          rfc3164 local0.info 2026-03-08T09:15:32+01:00 host=- app=EFW pid=- msgid=00600001
          msg=CONN: prio=1 id=00600001 rev=1 event=conn_open action=open rule=lan_to_wan conn=open connipproto=TCP connrecvif=lan connsrcip=192.168.1.20 connsrcport=51514 conndestif=wan conndestip=198.51.100.25 conndestport=443
        <134>[2026-03-08 09:15:40] EFW: CONN: prio=1 id=00600002 rev=1 event=conn_close action=close rule=lan_to_wan conn=close connipproto=TCP connrecvif=lan connsrcip=192.168.1.20 connsrcport=51514 conndestif=wan conndestip=198.51.100.25 conndestport=443 origsent=4312 termsent=18650 conntime=8
          rfc3164 local0.info 2026-03-08T09:15:40+01:00 host=- app=EFW pid=- msgid=00600002
          msg=CONN: prio=1 id=00600002 rev=1 event=conn_close action=close rule=lan_to_wan conn=close connipproto=TCP connrecvif=lan connsrcip=192.168.1.20 connsrcport=51514 conndestif=wan conndestip=198.51.100.25 conndestport=443 origsent=4312 termsent=18650 conntime=8
        <133>[2026-03-08 09:15:41] EFW: SYSTEM: prio=2 id=03204001 rev=1 event=accept_configuration action=using_new_config username=admin userdb=AdminUsers
          rfc3164 local0.notice 2026-03-08T09:15:41+01:00 host=- app=EFW pid=- msgid=03204001
          msg=SYSTEM: prio=2 id=03204001 rev=1 event=accept_configuration action=using_new_config username=admin userdb=AdminUsers
        <134>[2026-03-08 09:15:42] EFW: NETCON: prio=1 id=02300001 rev=1 event=init_complete
          rfc3164 local0.info 2026-03-08T09:15:42+01:00 host=- app=EFW pid=- msgid=02300001
          msg=NETCON: prio=1 id=02300001 rev=1 event=init_complete
        <131>[2026-03-08 09:15:43] EFW: RULE: prio=3 id=06000003 rev=1 event=ruleset_drop_packet action=drop rule=Default_Rule recvif=wan srcip=203.0.113.77 destip=203.0.113.5 ipproto=TCP ipdatalen=40 srcport=40112 destport=23 tcphdrlen=20 syn=1
          rfc3164 local0.err 2026-03-08T09:15:43+01:00 host=- app=EFW pid=- msgid=06000003
          msg=RULE: prio=3 id=06000003 rev=1 event=ruleset_drop_packet action=drop rule=Default_Rule recvif=wan srcip=203.0.113.77 destip=203.0.113.5 ipproto=TCP ipdatalen=40 srcport=40112 destport=23 tcphdrlen=20 syn=1
    "#]],
    );
}

#[test]
fn dell_powerconnect() {
    check(
        include_str!("../data/dell-powerconnect.txt"),
        expect![[r#"
        <190> MAR 08 09:15:32 10.0.0.3-1 TRAPMGR[0x8f2a10]: traputil.c(611) 1441 %% Link Up: g1
          rfc3164 local7.info 2026-03-08T09:15:32+01:00 host=10.0.0.3-1 app=TRAPMGR pid=0x8f2a10 msgid=-
          msg=traputil.c(611) 1441 %% Link Up: g1
        <189> MAR 08 09:15:33 10.0.0.3-1 CLI_WEB[0x8e1b20]: cli_web.c(820) 1442 %% User admin logged in
          rfc3164 local7.notice 2026-03-08T09:15:33+01:00 host=10.0.0.3-1 app=CLI_WEB pid=0x8e1b20 msgid=-
          msg=cli_web.c(820) 1442 %% User admin logged in
    "#]],
    );
}

#[test]
fn fortinet() {
    check(
        include_str!("../data/fortinet.txt"),
        expect![[r#"
        <189>date=2026-03-08 time=09:15:32 devname="FGT60E-HQ" devid="FGT60E4Q17000001" logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" eventtime=1772957732 srcip=10.0.1.20 srcport=51514 srcintf="internal" dstip=198.51.100.25 dstport=443 dstintf="wan1" action="accept" policyid=1 service="HTTPS" proto=6 duration=12 sentbyte=4312 rcvdbyte=18650
          bsd local7.notice 2026-03-08T09:15:32+01:00 host=FGT60E-HQ app=- pid=- msgid=0000000013
          msg=date=2026-03-08 time=09:15:32 devname="FGT60E-HQ" devid="FGT60E4Q17000001" logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" eventtime=1772957732 srcip=10.0.1.20 srcport=51514 srcintf="internal" dstip=198.51.100.25 dstport=443 dstintf="wan1" action="accept" policyid=1 service="HTTPS" proto=6 duration=12 sentbyte=4312 rcvdbyte=18650
        <189>date=2026-03-08 time=09:15:33 devname="FGT60E-HQ" devid="FGT60E4Q17000001" eventtime=1772957733120434971 tz="+0100" logid="0100032001" type="event" subtype="system" level="information" vd="root" logdesc="Admin login successful" user="admin" ui="https(10.0.1.5)" method="https" srcip=10.0.1.5 dstip=10.0.1.1 action="login" status="success" profile="super_admin" msg="Administrator admin logged in successfully from https(10.0.1.5)"
          bsd local7.notice 2026-03-08T09:15:33+01:00 host=FGT60E-HQ app=- pid=- msgid=0100032001
          msg=date=2026-03-08 time=09:15:33 devname="FGT60E-HQ" devid="FGT60E4Q17000001" eventtime=1772957733120434971 tz="+0100" logid="0100032001" type="event" subtype="system" level="information" vd="root" logdesc="Admin login successful" user="admin" ui="https(10.0.1.5)" method="https" srcip=10.0.1.5 dstip=10.0.1.1 action="login" status="success" profile="super_admin" msg="Administrator admin logged in successfully from https(10.0.1.5)"
        <188>date=2026/03/08 time=09:15:34 devname=FGT100F devid=FG100FTK19000002 logid=0419016384 type=utm subtype=ips eventtype=signature level=alert vd=root severity=critical srcip=203.0.113.77 dstip=10.0.0.10 action=dropped attack="Apache.Log4j.Error.Log.Remote.Code.Execution" msg="web_server: Apache.Log4j.Error.Log.Remote.Code.Execution, \\"quoted\\" part"
          bsd local7.warning 2026-03-08T09:15:34+01:00 host=FGT100F app=- pid=- msgid=0419016384
          msg=date=2026/03/08 time=09:15:34 devname=FGT100F devid=FG100FTK19000002 logid=0419016384 type=utm subtype=ips eventtype=signature level=alert vd=root severity=critical srcip=203.0.113.77 dstip=10.0.0.10 action=dropped attack="Apache.Log4j.Error.Log.Remote.Code.Execution" msg="web_server: Apache.Log4j.Error.Log.Remote.Code.Execution, \\"quoted\\" part"
        <190>logver=700140601 timestamp=1772957735 devname="FGT-BRANCH" devid="FGVM02TM22000003" vd="root" date=2026-03-08 time=09:15:35 eventtime=1772957735000000000 tz="-0500" logid="0001000014" type="traffic" subtype="local" level="notice"
          bsd local7.info 2026-03-08T09:15:35-05:00 host=FGT-BRANCH app=- pid=- msgid=0001000014
          msg=logver=700140601 timestamp=1772957735 devname="FGT-BRANCH" devid="FGVM02TM22000003" vd="root" date=2026-03-08 time=09:15:35 eventtime=1772957735000000000 tz="-0500" logid="0001000014" type="traffic" subtype="local" level="notice"
    "#]],
    );
}

#[test]
fn juniper() {
    check(
        include_str!("../data/juniper.txt"),
        expect![[r#"
        <29>Mar  8 09:15:32 mx1 mgd[4242]: UI_COMMIT: User 'netops' requested 'commit' operation (comment: none)
          rfc3164 daemon.notice 2026-03-08T09:15:32+01:00 host=mx1 app=mgd pid=4242 msgid=UI_COMMIT
          msg=UI_COMMIT: User 'netops' requested 'commit' operation (comment: none)
        <30>Mar  8 09:15:33 mx1 rpd[1500]: RPD_BGP_NEIGHBOR_STATE_CHANGED: BGP peer 192.0.2.9 (External AS 64500) changed state from OpenConfirm to Established (event RecvKeepAlive) (instance master)
          rfc3164 daemon.info 2026-03-08T09:15:33+01:00 host=mx1 app=rpd pid=1500 msgid=RPD_BGP_NEIGHBOR_STATE_CHANGED
          msg=RPD_BGP_NEIGHBOR_STATE_CHANGED: BGP peer 192.0.2.9 (External AS 64500) changed state from OpenConfirm to Established (event RecvKeepAlive) (instance master)
        <28>Mar  8 09:15:34 srx1 /kernel: KERN_ARP_ADDR_CHANGE: arp info overwritten for 10.0.0.1 from 00:11:22:33:44:55 to 00:11:22:33:44:66
          rfc3164 daemon.warning 2026-03-08T09:15:34+01:00 host=srx1 app=/kernel pid=- msgid=KERN_ARP_ADDR_CHANGE
          msg=KERN_ARP_ADDR_CHANGE: arp info overwritten for 10.0.0.1 from 00:11:22:33:44:55 to 00:11:22:33:44:66
        <14>Mar  8 09:15:35 srx1 RT_FLOW: RT_FLOW_SESSION_CREATE: session created 10.0.0.5/51000->198.51.100.7/443 0x0 junos-https 203.0.113.5/51000->198.51.100.7/443 0x0 source rule trust-to-untrust N/A N/A 6 allow-web trust untrust 4711 N/A(N/A) ge-0/0/1.0 UNKNOWN UNKNOWN UNKNOWN N/A N/A -1
          rfc3164 user.info 2026-03-08T09:15:35+01:00 host=srx1 app=RT_FLOW pid=- msgid=RT_FLOW_SESSION_CREATE
          msg=RT_FLOW_SESSION_CREATE: session created 10.0.0.5/51000->198.51.100.7/443 0x0 junos-https 203.0.113.5/51000->198.51.100.7/443 0x0 source rule trust-to-untrust N/A N/A 6 allow-web trust untrust 4711 N/A(N/A) ge-0/0/1.0 UNKNOWN UNKNOWN UNKNOWN N/A N/A -1
        <30>Mar  8 09:15:36 ex2300 chassisd[1800]: CHASSISD_SNMP_TRAP7: SNMP trap generated: Power Supply Removed (jnxContentsContainerIndex 2, jnxContentsL1Index 1, jnxContentsL2Index 0, jnxContentsL3Index 0, jnxContentsDescr Power Supply 0, jnxOperatingState/Temp 2)
          rfc3164 daemon.info 2026-03-08T09:15:36+01:00 host=ex2300 app=chassisd pid=1800 msgid=CHASSISD_SNMP_TRAP7
          msg=CHASSISD_SNMP_TRAP7: SNMP trap generated: Power Supply Removed (jnxContentsContainerIndex 2, jnxContentsL1Index 1, jnxContentsL2Index 0, jnxContentsL3Index 0, jnxContentsDescr Power Supply 0, jnxOperatingState/Temp 2)
        <86>Mar  8 09:15:37 mx1 sshd[9981]: Accepted publickey for netops from 10.20.0.7 port 50122 ssh2
          rfc3164 authpriv.info 2026-03-08T09:15:37+01:00 host=mx1 app=sshd pid=9981 msgid=-
          msg=Accepted publickey for netops from 10.20.0.7 port 50122 ssh2
    "#]],
    );
}

#[test]
fn logger() {
    check(
        include_str!("../data/logger.txt"),
        expect![[r#"
            <13>Mar  8 09:15:32 laptop alice: backup finished
              rfc3164 user.notice 2026-03-08T09:15:32+01:00 host=laptop app=alice pid=- msgid=-
              msg=backup finished
            <13>Mar  8 09:15:33 laptop alice[4242]: backup finished (logger --id)
              rfc3164 user.notice 2026-03-08T09:15:33+01:00 host=laptop app=alice pid=4242 msgid=-
              msg=backup finished (logger --id)
            <13>Mar  8 09:15:34 laptop alice:
              rfc3164 user.notice 2026-03-08T09:15:34+01:00 host=laptop app=alice pid=- msgid=-
              msg=
            <13>Mar 8 09:15:36 laptop my app: the first word is the tag (RFC 3164 \xc2\xa74.1.3)
              rfc3164 user.notice 2026-03-08T09:15:36+01:00 host=laptop app=my pid=- msgid=-
              msg=app: the first word is the tag (RFC 3164 \xc2\xa74.1.3)
            <13>myapp[77]: started
              bsd user.notice - host=- app=myapp pid=77 msgid=-
              msg=started
            <13>myapp[77] started without a colon
              bsd user.notice - host=- app=myapp pid=77 msgid=-
              msg=started without a colon
            <13>Error: no tag without a pid in the bare form
              bsd user.notice - host=- app=- pid=- msgid=-
              msg=Error: no tag without a pid in the bare form
            <13>
              bsd user.notice - host=- app=- pid=- msgid=-
              msg=
        "#]],
    );
}

#[test]
fn rsyslog() {
    check(
        include_str!("../data/rsyslog.txt"),
        expect![[r#"
            <30>Mar  8 09:15:32 web01 systemd[1]: Started Session 42 of user alice.
              rfc3164 daemon.info 2026-03-08T09:15:32+01:00 host=web01 app=systemd pid=1 msgid=-
              msg=Started Session 42 of user alice.
            <86>Mar  8 09:15:33 web01 sshd[20231]: Accepted publickey for alice from 10.20.0.7 port 50122 ssh2: ED25519 SHA256:2b3c4d5e6f
              rfc3164 authpriv.info 2026-03-08T09:15:33+01:00 host=web01 app=sshd pid=20231 msgid=-
              msg=Accepted publickey for alice from 10.20.0.7 port 50122 ssh2: ED25519 SHA256:2b3c4d5e6f
            <22>Mar  8 09:15:34 mail01 postfix/smtpd[3321]: connect from unknown[203.0.113.9]
              rfc3164 mail.info 2026-03-08T09:15:34+01:00 host=mail01 app=postfix/smtpd pid=3321 msgid=-
              msg=connect from unknown[203.0.113.9]
            <6>Mar  8 09:15:35 web01 kernel: [1234567.890123] IPv4: martian source 10.0.0.255 from 10.0.0.7, on dev eth0
              rfc3164 kern.info 2026-03-08T09:15:35+01:00 host=web01 app=kernel pid=- msgid=-
              msg=[1234567.890123] IPv4: martian source 10.0.0.255 from 10.0.0.7, on dev eth0
            <78>Mar  8 09:17:01 web01 CRON[21001]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)
              rfc3164 cron.info 2026-03-08T09:17:01+01:00 host=web01 app=CRON pid=21001 msgid=-
              msg=(root) CMD (   cd / && run-parts --report /etc/cron.hourly)
            <38>Mar  8 09:15:36 web01 sshd(pam_unix)[20240]: authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root
              rfc3164 auth.info 2026-03-08T09:15:36+01:00 host=web01 app=sshd(pam_unix) pid=20240 msgid=-
              msg=authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root
            <14>Mar  8 09:15:40 2001:db8::10 nginx[800]: 2001:db8::99 - - "GET / HTTP/1.1" 200
              rfc3164 user.info 2026-03-08T09:15:40+01:00 host=2001:db8::10 app=nginx pid=800 msgid=-
              msg=2001:db8::99 - - "GET / HTTP/1.1" 200
            <30>2026-03-08T09:15:37.412093+01:00 web01 systemd-logind[612]: New session 43 of user bob.
              rfc3164 daemon.info 2026-03-08T09:15:37.412093+01:00 host=web01 app=systemd-logind pid=612 msgid=-
              msg=New session 43 of user bob.
            <29>2026-03-08T08:15:38Z db01 postgres[4410]: [3-1] LOG:  checkpoint starting: time
              rfc3164 daemon.notice 2026-03-08T08:15:38Z host=db01 app=postgres pid=4410 msgid=-
              msg=[3-1] LOG:  checkpoint starting: time
            <13>2026-03-08T09:15:39 web01 app: no zone in the timestamp
              rfc3164 user.notice 2026-03-08T09:15:39+01:00 host=web01 app=app pid=- msgid=-
              msg=no zone in the timestamp
            <13>2026-03-08T09:15:39.123456789+0100 web01 app: nanoseconds and a colonless offset
              rfc3164 user.notice 2026-03-08T09:15:39.123456789+01:00 host=web01 app=app pid=- msgid=-
              msg=nanoseconds and a colonless offset
        "#]],
    );
}

#[test]
fn weos() {
    check(
        include_str!("../data/weos.txt"),
        expect![[r#"
            <37>Nov 18 09:36:42 weos-sw1 login[1207] Authentication successful for user 'admin' from 192.168.2.10
              rfc3164 auth.notice 2025-11-18T09:36:42+01:00 host=weos-sw1 app=login pid=1207 msgid=-
              msg=Authentication successful for user 'admin' from 192.168.2.10
            <36>Nov 18 09:36:50 weos-sw1 login[1210] Authentication failed for user 'admin' from 192.168.2.99
              rfc3164 auth.warning 2025-11-18T09:36:50+01:00 host=weos-sw1 app=login pid=1210 msgid=-
              msg=Authentication failed for user 'admin' from 192.168.2.99
            <109>Nov 18 09:37:03 weos-sw1 confd[881] User 'admin' changed the configuration
              rfc3164 security.notice 2025-11-18T09:37:03+01:00 host=weos-sw1 app=confd pid=881 msgid=-
              msg=User 'admin' changed the configuration
            <117>Nov 18 09:37:05 weos-sw1 finit[1] Starting mdnsd:1, PID: 1203
              rfc3164 console.notice 2025-11-18T09:37:05+01:00 host=weos-sw1 app=finit pid=1 msgid=-
              msg=Starting mdnsd:1, PID: 1203
            <116>Nov 18 09:40:11 weos-sw1 finit[1] Service mdnsd:1 died, restarting (1/10)
              rfc3164 console.warning 2025-11-18T09:40:11+01:00 host=weos-sw1 app=finit pid=1 msgid=-
              msg=Service mdnsd:1 died, restarting (1/10)
            <102>Nov 18 09:41:00 weos-sw1 ntpd[990] clock is now synced
              rfc3164 ntp.info 2025-11-18T09:41:00+01:00 host=weos-sw1 app=ntpd pid=990 msgid=-
              msg=clock is now synced
            <99>Nov 18 09:41:30 weos-sw1 ntpd[990] no reply received in time, skipping initial time setting
              rfc3164 ntp.err 2025-11-18T09:41:30+01:00 host=weos-sw1 app=ntpd pid=990 msgid=-
              msg=no reply received in time, skipping initial time setting
            <117>Nov 18 09:42:00 weos-sw1 finit[1]: \\/ Westermo WeOS v5.7, entering runlevel 6
              rfc3164 console.notice 2025-11-18T09:42:00+01:00 host=weos-sw1 app=finit pid=1 msgid=-
              msg=\\/ Westermo WeOS v5.7, entering runlevel 6
            <117>Link down on eth1
              bsd console.notice - host=- app=- pid=- msgid=-
              msg=Link down on eth1
            <117>finit[1]: Link up on eth1
              bsd console.notice - host=- app=finit pid=1 msgid=-
              msg=Link up on eth1
            <117> Link up on eth2
              bsd console.notice - host=- app=- pid=- msgid=-
              msg=Link up on eth2
        "#]],
    );
}

#[test]
fn windows() {
    check(
        include_str!("../data/windows.txt"),
        expect![[r#"
        <14>Mar  8 09:15:32 WIN-DC01 Microsoft-Windows-Security-Auditing[640]: An account was successfully logged on. Subject: Security ID: S-1-5-18 Account Name: WIN-DC01$
          rfc3164 user.info 2026-03-08T09:15:32+01:00 host=WIN-DC01 app=Microsoft-Windows-Security-Auditing pid=640 msgid=-
          msg=An account was successfully logged on. Subject: Security ID: S-1-5-18 Account Name: WIN-DC01$
        <11>Mar  8 09:15:33 WIN-DC01 Service_Control_Manager[640]: The Print Spooler service terminated unexpectedly.
          rfc3164 user.err 2026-03-08T09:15:33+01:00 host=WIN-DC01 app=Service_Control_Manager pid=640 msgid=-
          msg=The Print Spooler service terminated unexpectedly.
        <14>Mar  8 09:15:34 WIN-DC01 MSWinEventLog\t1\tSecurity\t1203\tSun Mar 08 09:15:34 2026\t4625\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tFailure Audit\tWIN-DC01.corp.example\tLogon\t\tAn account failed to log on.\t1203
          rfc3164 user.info 2026-03-08T09:15:34+01:00 host=WIN-DC01 app=- pid=- msgid=-
          msg=MSWinEventLog\t1\tSecurity\t1203\tSun Mar 08 09:15:34 2026\t4625\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tFailure Audit\tWIN-DC01.corp.example\tLogon\t\tAn account failed to log on.\t1203
    "#]],
    );
}
