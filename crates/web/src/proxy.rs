//! The client's address behind reverse proxies, for rate limits: taken from `X-Forwarded-For`
//! (or RFC 7239 `Forwarded`, whichever header the proxies are said to write) only when the
//! connection comes from a trusted proxy, and then read from the right: each trusted hop
//! vouches for the address on its left, so the first address not of a trusted proxy is the
//! client's. What a client writes into the header itself sits left of that and is never
//! believed. With no trusted proxy (the default), the connection's peer is the client.

use axum::http::HeaderMap;
use std::net::IpAddr;

/// Which header the trusted proxies write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the default).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

/// The reverse proxies whose forwarding headers are believed: addresses and networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<(IpAddr, u8)>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Parses addresses and CIDR networks (`10.0.0.7`, `10.0.0.0/8`, `fd00::/8`), the proxies
    /// writing `header`.
    pub fn parse(items: &[String], header: ForwardedHeader) -> Result<Self, String> {
        let mut networks = Vec::new();
        for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let (addr, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (item, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("{item:?} is not an IP address or network"))?;
            let addr = addr.to_canonical();
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("{item:?}: the prefix length must be 0 to {max}"))?,
            };
            networks.push((addr, bits));
        }
        Ok(TrustedProxies { networks, header })
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Whether `ip` is a trusted proxy's.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks
            .iter()
            .any(|(net, bits)| within(ip, *net, *bits))
    }

    /// The client's address of a request that came from `peer` with `headers`.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut addr = peer.to_canonical();
        if !self.trusts(addr) {
            return addr;
        }
        let hops = match self.header {
            ForwardedHeader::XForwardedFor => list(headers, "x-forwarded-for"),
            ForwardedHeader::Forwarded => list(headers, "forwarded")
                .into_iter()
                .map(|element| forwarded_for(&element).unwrap_or_default())
                .collect(),
        };
        for hop in hops.iter().rev() {
            if !self.trusts(addr) {
                break;
            }
            match hop_address(hop) {
                Some(a) => addr = a.to_canonical(),
                // An unreadable or obfuscated hop: the last proxy that vouched is all we know.
                None => break,
            }
        }
        addr
    }
}

fn within(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (a, b, len) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (a.to_bits() as u128, b.to_bits() as u128, 32u32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits(), b.to_bits(), 128u32),
        _ => return false,
    };
    let shift = len - u32::from(bits);
    shift >= len || (a >> shift) == (b >> shift)
}

/// The comma-separated elements of every `name` header line, in order.
fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_owned())
        .collect()
}

/// The `for=` value of one `Forwarded` element, unquoted.
fn forwarded_for(element: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// An address as a hop writes it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, or
/// `[2001:db8::1]:4711`.
fn hop_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(a) = hop.parse::<IpAddr>() {
        return Some(a);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (a, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    a.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(items: &[&str], header: ForwardedHeader) -> TrustedProxies {
        let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        TrustedProxies::parse(&items, header).unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::default();
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(none.client_address(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        let some = proxies(&["10.0.0.1"], ForwardedHeader::XForwardedFor);
        assert_eq!(
            some.client_address(ip("10.0.0.2"), &h),
            ip("10.0.0.2"),
            "a peer not in the list is the client, whatever it writes"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "::1"], ForwardedHeader::XForwardedFor);
        let h = headers(&[("x-forwarded-for", "198.51.100.7, 203.0.113.9, 10.1.2.3")]);
        assert_eq!(
            p.client_address(ip("10.0.0.1"), &h),
            ip("203.0.113.9"),
            "the client's own left-hand entry is not believed"
        );
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-for", "10.1.2.3"),
        ]);
        assert_eq!(p.client_address(ip("::1"), &h), ip("198.51.100.7"));
        let h = headers(&[("x-forwarded-for", "garbage, 10.1.2.3")]);
        assert_eq!(p.client_address(ip("10.0.0.1"), &h), ip("10.1.2.3"));
        assert_eq!(
            p.client_address(ip("::ffff:10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1"),
            "no header: the proxy itself"
        );
        let h = headers(&[("forwarded", "for=198.51.100.7")]);
        assert_eq!(
            p.client_address(ip("10.0.0.1"), &h),
            ip("10.0.0.1"),
            "the header the proxies do not write is ignored"
        );
    }

    #[test]
    fn forwarded_elements_are_read_for_their_for_parameter() {
        let p = proxies(&["10.0.0.1"], ForwardedHeader::Forwarded);
        let h = headers(&[(
            "forwarded",
            "for=192.0.2.1, for=\"[2001:db8:cafe::17]:4711\";proto=https;by=10.0.0.1",
        )]);
        assert_eq!(
            p.client_address(ip("10.0.0.1"), &h),
            ip("2001:db8:cafe::17")
        );
        let h = headers(&[("forwarded", "for=_hidden;proto=https")]);
        assert_eq!(p.client_address(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        let h = headers(&[("forwarded", "For=192.0.2.1:8080")]);
        assert_eq!(p.client_address(ip("10.0.0.1"), &h), ip("192.0.2.1"));
    }

    #[test]
    fn lists_are_checked() {
        let parse = |s: &str| TrustedProxies::parse(&[s.to_owned()], ForwardedHeader::default());
        assert!(parse("10.0.0.0/8").is_ok());
        assert!(parse("fd00::/8").is_ok());
        assert!(parse("10.0.0.0/33").is_err());
        assert!(parse("proxy.example").is_err());
        let p = parse("0.0.0.0/0").unwrap();
        assert!(p.trusts(ip("203.0.113.9")));
        assert!(
            !p.trusts(ip("::1")),
            "an IPv4 network holds no IPv6 address"
        );
        assert!(TrustedProxies::default().is_empty());
    }
}
