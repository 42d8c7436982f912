//! Unit tests of the error messages people read.

use super::*;

fn bind_error(port: u16, kind: io::ErrorKind) -> ListenError {
    ListenError::Bind {
        transport: "udp",
        address: SocketAddr::from(([0, 0, 0, 0], port)),
        source: io::Error::from(kind),
    }
}

#[test]
fn permission_denied_on_a_privileged_port_explains_the_fixes() {
    let message = bind_error(514, io::ErrorKind::PermissionDenied).to_string();
    assert!(message.starts_with("cannot listen on 0.0.0.0:514/udp: permission denied"));
    for fix in [
        "as root",
        "setcap cap_net_bind_service=+ep",
        "sysctl net.ipv4.ip_unprivileged_port_start=514",
        "port >= 1024",
    ] {
        assert!(message.contains(fix), "{message} lacks {fix}");
    }
}

#[test]
fn other_bind_errors_carry_no_advice() {
    let in_use = bind_error(514, io::ErrorKind::AddrInUse).to_string();
    assert!(!in_use.contains("setcap"));
    let high_port = bind_error(5140, io::ErrorKind::PermissionDenied).to_string();
    assert!(!high_port.contains("setcap"));
}
