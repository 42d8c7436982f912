//! The one system call the standard library does not offer: how many bytes
//! written to a TCP socket the peer has not acknowledged yet.
//!
//! On Linux `ioctl(fd, SIOCOUTQ)` (the same number as `TIOCOUTQ`) returns
//! the bytes in the socket's send queue: those not yet sent plus those sent
//! and not yet acknowledged by the peer's TCP stack. The relay subtracts it
//! from the bytes it has written on the connection to learn how far the
//! target has acknowledged (see `engine.rs` and docs/relay.md for what that
//! does and does not promise).

use std::io;
use std::os::fd::AsRawFd;

/// Bytes written to `socket` and not yet acknowledged by the peer.
pub(crate) fn unacked_bytes(socket: &impl AsRawFd) -> io::Result<u64> {
    let mut queued: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one c_int through the pointer,
    // which points at a live, properly aligned c_int; the descriptor is
    // owned by `socket` for the duration of the call.
    let result = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::try_from(queued).unwrap_or(0))
}
