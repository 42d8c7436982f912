//! The `recvmmsg` receiver of the UDP listener: fixed buffers for a batch
//! of datagrams, the headers that point the kernel at them, and reading
//! back what one call filled in (payloads, sender addresses), plus the
//! socket options the listener sets and the kernel's drop count it polls.
//!
//! This is where the listen crate talks to the kernel through raw pointers,
//! so nearly all of its `unsafe` code lives here, each block with a
//! `SAFETY:` comment; `udp.rs` around it holds the sockets, the threads and
//! the counting, and uses only the safe [`Receiver`] API. The buffers are
//! allocated once per receive thread and reused for every call, so reading
//! costs no allocation per datagram.
//!
//! No control message is asked for: the kernel's drop count is read with
//! `SO_MEMINFO` ([`kernel_drops`]) once per batch, not attached to every
//! datagram with `SO_RXQ_OVFL`, which cost the kernel a control message
//! (and its user-copy checks) per datagram.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;
use std::ptr;

#[cfg(test)]
mod tests;

/// Sets an integer socket option (`setsockopt` with a C `int`).
pub(crate) fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` outlives the call and its size is passed along; the
    // kernel only reads from the pointer.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            ptr::addr_of!(value).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The socket's cumulative count of datagrams the kernel dropped (its
/// receive buffer was full, or the datagram was bad), from `SO_MEMINFO`:
/// the counter `SO_RXQ_OVFL` would attach to datagrams, read when asked.
/// It wraps at 2^32. `None` from a kernel whose `SO_MEMINFO` is too old to
/// include it (before Linux 4.12).
pub(crate) fn kernel_drops(fd: RawFd) -> io::Result<Option<u32>> {
    let mut info = [0u32; MEMINFO_WORDS];
    let mut len = mem::size_of_val(&info) as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes, and the kernel writes at
    // most `len` bytes and stores the length it wrote in `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_MEMINFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let drops = libc::SK_MEMINFO_DROPS as usize;
    if (len as usize) < (drops + 1) * mem::size_of::<u32>() {
        return Ok(None);
    }
    Ok(info.get(drops).copied())
}

/// Room for the `SO_MEMINFO` array: `SK_MEMINFO_VARS` is 9 today, the
/// drop count last; a longer array in a future kernel is cut, harmlessly.
const MEMINFO_WORDS: usize = 16;

/// One datagram as `recvmmsg` left it.
#[derive(Debug)]
pub(crate) struct Datagram<'a> {
    /// The payload, at most `max_frame` bytes.
    pub(crate) payload: &'a [u8],
    /// The sender.
    pub(crate) peer: Option<SocketAddr>,
    /// The datagram was longer than the buffer and was cut (MSG_TRUNC).
    pub(crate) truncated: bool,
}

impl Datagram<'_> {
    const EMPTY: Datagram<'static> = Datagram {
        payload: &[],
        peer: None,
        truncated: false,
    };
}

/// Reusable buffers for `recvmmsg`: payload slots, addresses and the
/// headers pointing at them.
///
/// The headers hold raw pointers into the other vectors. Those vectors are
/// allocated once in [`Receiver::new`] and never resized, so their heap
/// buffers stay put even when the `Receiver` itself moves.
pub(crate) struct Receiver {
    max_frame: usize,
    payloads: Vec<u8>,
    iovecs: Vec<libc::iovec>,
    addresses: Vec<libc::sockaddr_storage>,
    headers: Vec<libc::mmsghdr>,
    n_filled: usize,
}

impl Receiver {
    /// Buffers for `batch_size` datagrams of up to `max_frame` bytes (both
    /// at least 1).
    pub(crate) fn new(batch_size: usize, max_frame: usize) -> Receiver {
        let batch_size = batch_size.max(1);
        let max_frame = max_frame.max(1);
        let mut receiver = Receiver {
            max_frame,
            payloads: vec![0; batch_size * max_frame],
            iovecs: Vec::with_capacity(batch_size),
            // SAFETY: all-zero bytes are a valid value of this plain C
            // struct (integers only).
            addresses: vec![unsafe { mem::zeroed() }; batch_size],
            headers: Vec::with_capacity(batch_size),
            n_filled: 0,
        };
        for slot in receiver.payloads.chunks_exact_mut(max_frame) {
            receiver.iovecs.push(libc::iovec {
                iov_base: slot.as_mut_ptr().cast(),
                iov_len: max_frame,
            });
        }
        for idx in 0..batch_size {
            // SAFETY: all-zero bytes are a valid mmsghdr (integers and null
            // pointers); its pointers are filled in right away. It has no
            // control buffer: sinkd asks for no control message.
            let mut header: libc::mmsghdr = unsafe { mem::zeroed() };
            header.msg_hdr.msg_name = ptr::addr_of_mut!(receiver.addresses[idx]).cast();
            header.msg_hdr.msg_iov = ptr::addr_of_mut!(receiver.iovecs[idx]);
            header.msg_hdr.msg_iovlen = 1;
            receiver.headers.push(header);
        }
        receiver
    }

    /// Datagrams one call can return (`batch_size`).
    pub(crate) fn capacity(&self) -> usize {
        self.headers.len()
    }

    /// Receives up to `batch_size` datagrams: waits (up to the socket's
    /// receive timeout) for the first, then takes those already queued.
    pub(crate) fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.n_filled = 0;
        for header in &mut self.headers {
            // The kernel overwrites these on every call.
            header.msg_hdr.msg_namelen =
                mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_hdr.msg_flags = 0;
            header.msg_len = 0;
        }
        let vlen = libc::c_uint::try_from(self.headers.len()).unwrap_or(libc::c_uint::MAX);
        // SAFETY: every header points at an address and an iovec owned by
        // `self`, with their true sizes, and has no control buffer; the
        // iovecs point at distinct `max_frame`-byte slots of
        // `self.payloads`. The kernel writes only within those bounds, and
        // `&mut self` guarantees no one reads the buffers meanwhile.
        let rc = unsafe {
            libc::recvmmsg(
                fd,
                self.headers.as_mut_ptr(),
                vlen,
                libc::MSG_WAITFORONE,
                ptr::null_mut(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        self.n_filled = usize::try_from(rc).unwrap_or(0).min(self.headers.len());
        Ok(self.n_filled)
    }

    /// Datagram `idx` of the last [`Receiver::recv`]; an empty one past
    /// the number it returned.
    pub(crate) fn datagram(&self, idx: usize) -> Datagram<'_> {
        let (Some(header), Some(address)) = (self.headers.get(idx), self.addresses.get(idx)) else {
            return Datagram::EMPTY;
        };
        if idx >= self.n_filled {
            return Datagram::EMPTY;
        }
        let len = (header.msg_len as usize).min(self.max_frame);
        let start = idx * self.max_frame;
        let payload = self.payloads.get(start..start + len).unwrap_or(&[]);
        Datagram {
            payload,
            peer: socket_addr(address, header.msg_hdr.msg_namelen),
            truncated: header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
        }
    }
}

/// Converts a socket address the kernel wrote.
fn socket_addr(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, and
            // sockaddr_storage is large and aligned enough for any address.
            let sin = unsafe { &*ptr::addr_of!(*storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*ptr::addr_of!(*storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}
