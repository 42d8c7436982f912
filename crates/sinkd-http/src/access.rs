//! Who may read logs. `/metrics` and `/healthz` are open to everyone; the
//! read API is not:
//!
//! - with no authentication configured, it answers loopback clients only
//!   (403 for the others);
//! - with a bearer token file, a TLS client CA, or both, every client —
//!   loopback too, since a reverse proxy on the same host makes every
//!   client look local — must present the token (`Authorization: Bearer
//!   TOKEN`, compared in constant time) or a client certificate the CA
//!   verified during the handshake (401 otherwise).

use std::net::IpAddr;
use subtle::ConstantTimeEq as _;

/// The access rule, fixed when the server starts.
#[derive(Debug, Default)]
pub(crate) struct Access {
    token: Option<Vec<u8>>,
    client_certs: bool,
}

/// What a client may do with the read API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allowed,
    /// Not loopback, and no authentication is configured.
    LoopbackOnly,
    /// Authentication is configured and the client presented none that
    /// holds.
    Unauthenticated,
}

/// What one connection and request show about their client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client<'a> {
    pub(crate) ip: IpAddr,
    /// A certificate verified against the client CA during the handshake.
    pub(crate) verified_cert: bool,
    /// The `Authorization` header, if any.
    pub(crate) authorization: Option<&'a [u8]>,
}

impl Access {
    /// `token` is the bearer token (already trimmed, never empty);
    /// `client_certs` says the TLS listener verifies client certificates.
    pub(crate) fn new(token: Option<Vec<u8>>, client_certs: bool) -> Access {
        Access {
            token,
            client_certs,
        }
    }

    pub(crate) fn judge(&self, client: Client<'_>) -> Verdict {
        if self.token.is_none() && !self.client_certs {
            return if is_loopback(client.ip) {
                Verdict::Allowed
            } else {
                Verdict::LoopbackOnly
            };
        }
        if self.client_certs && client.verified_cert {
            return Verdict::Allowed;
        }
        if let (Some(token), Some(presented)) = (&self.token, bearer(client.authorization)) {
            if bool::from(token.as_slice().ct_eq(presented)) {
                return Verdict::Allowed;
            }
        }
        Verdict::Unauthenticated
    }
}

/// The token of an `Authorization: Bearer TOKEN` header (the scheme is
/// case-insensitive).
fn bearer(header: Option<&[u8]>) -> Option<&[u8]> {
    let header = header?;
    let (scheme, rest) = header.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || rest.first() != Some(&b' ') {
        return None;
    }
    Some(rest.trim_ascii())
}

/// Loopback, also as an IPv4-mapped IPv6 address.
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: &str, cert: bool, authorization: Option<&'static str>) -> Client<'static> {
        Client {
            ip: ip.parse().unwrap(),
            verified_cert: cert,
            authorization: authorization.map(str::as_bytes),
        }
    }

    #[test]
    fn without_authentication_only_loopback_reads() {
        let access = Access::new(None, false);
        assert_eq!(
            access.judge(client("127.0.0.1", false, None)),
            Verdict::Allowed
        );
        assert_eq!(
            access.judge(client("127.9.9.9", false, None)),
            Verdict::Allowed
        );
        assert_eq!(access.judge(client("::1", false, None)), Verdict::Allowed);
        assert_eq!(
            access.judge(client("::ffff:127.0.0.1", false, None)),
            Verdict::Allowed
        );
        assert_eq!(
            access.judge(client("10.0.0.5", false, None)),
            Verdict::LoopbackOnly
        );
        assert_eq!(
            access.judge(client("10.0.0.5", true, Some("Bearer x"))),
            Verdict::LoopbackOnly
        );
    }

    #[test]
    fn a_token_is_required_from_everyone_once_configured() {
        let access = Access::new(Some(b"s3cret".to_vec()), false);
        assert_eq!(
            access.judge(client("127.0.0.1", false, None)),
            Verdict::Unauthenticated
        );
        assert_eq!(
            access.judge(client("10.0.0.5", false, Some("Bearer s3cret"))),
            Verdict::Allowed
        );
        assert_eq!(
            access.judge(client("10.0.0.5", false, Some("bearer  s3cret "))),
            Verdict::Allowed
        );
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Basic s3cret",
            "Bearers3cret",
            "",
        ] {
            assert_eq!(
                access.judge(client("10.0.0.5", false, Some(wrong))),
                Verdict::Unauthenticated,
                "{wrong:?}"
            );
        }
        // A certificate counts only where client certificates are verified.
        assert_eq!(
            access.judge(client("10.0.0.5", true, None)),
            Verdict::Unauthenticated
        );
    }

    #[test]
    fn a_verified_client_certificate_is_enough() {
        let access = Access::new(None, true);
        assert_eq!(
            access.judge(client("10.0.0.5", true, None)),
            Verdict::Allowed
        );
        assert_eq!(
            access.judge(client("10.0.0.5", false, None)),
            Verdict::Unauthenticated
        );
        assert_eq!(
            access.judge(client("127.0.0.1", false, None)),
            Verdict::Unauthenticated
        );
    }
}
