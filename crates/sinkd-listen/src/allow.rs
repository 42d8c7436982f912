//! Source-address allow lists: the `allow = [...]` "secure mode" of a
//! listener.
//!
//! An [`AllowList`] is a list of IP networks. Empty means every source is
//! welcome; otherwise a UDP datagram from an address outside every network is
//! dropped (counted as `not_allowed`) and a TCP/TLS connection from one is
//! closed right after `accept` (counted in `sinkd_connections_closed_total`).
//!
//! Addresses are compared in both of their spellings: a listener bound to
//! `[::]` sees IPv4 senders as IPv4-mapped IPv6 addresses
//! (`::ffff:10.1.2.3`), and the list `10.0.0.0/8` must still admit them.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

#[cfg(test)]
mod tests;

/// The networks a listener accepts messages from; empty allows all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList {
    /// The allowed networks. A plain address is a `/32` or `/128` network.
    pub nets: Vec<IpNet>,
}

/// An allow-list entry that is neither an IP address nor a CIDR network.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid allow entry `{entry}`: expected an IP address (10.1.2.3, 2001:db8::1) or a network in CIDR notation (10.0.0.0/8, 2001:db8::/32)")]
pub struct AllowListError {
    /// The offending entry, as written.
    pub entry: String,
}

impl AllowList {
    /// An allow list of the given networks.
    pub fn new(nets: Vec<IpNet>) -> AllowList {
        AllowList { nets }
    }

    /// Parses each entry as an address or CIDR network, reporting the first
    /// bad one.
    pub fn parse<I, S>(entries: I) -> Result<AllowList, AllowListError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        entries
            .into_iter()
            .map(|entry| parse_entry(entry.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(AllowList::new)
    }

    /// Whether the list is empty, that is, allows every source.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `addr` may send to the listener.
    pub fn contains(&self, addr: IpAddr) -> bool {
        if self.nets.is_empty() {
            return true;
        }
        // The other spelling of the same host: an IPv4-mapped IPv6 address
        // and its IPv4 form stand for one another.
        let alternate = match addr {
            IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
        };
        self.nets.iter().any(|net| {
            net.contains(&addr) || alternate.is_some_and(|alternate| net.contains(&alternate))
        })
    }
}

/// Parses one entry: `10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7` or
/// `2001:db8::7` (surrounding whitespace ignored).
pub fn parse_entry(entry: &str) -> Result<IpNet, AllowListError> {
    let trimmed = entry.trim();
    if let Ok(net) = trimmed.parse::<IpNet>() {
        return Ok(net);
    }
    match trimmed.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => Ok(IpNet::V4(Ipv4Net::from(v4))),
        Ok(IpAddr::V6(v6)) => Ok(IpNet::V6(Ipv6Net::from(v6))),
        Err(_) => Err(AllowListError {
            entry: entry.to_owned(),
        }),
    }
}

/// Parses a comma- or whitespace-separated list, such as
/// `"10.0.0.0/8, 192.0.2.7"`. An empty string is the empty (allow-all) list.
impl FromStr for AllowList {
    type Err = AllowListError;

    fn from_str(text: &str) -> Result<AllowList, AllowListError> {
        AllowList::parse(
            text.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|entry| !entry.is_empty()),
        )
    }
}

impl FromIterator<IpNet> for AllowList {
    fn from_iter<I: IntoIterator<Item = IpNet>>(nets: I) -> AllowList {
        AllowList::new(nets.into_iter().collect())
    }
}

/// Writes the networks comma-separated (the form [`FromStr`] reads back);
/// the empty list writes nothing.
impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (idx, net) in self.nets.iter().enumerate() {
            if idx > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}
