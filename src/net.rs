//! Client addresses behind reverse proxies: which peers are trusted
//! (`GATEHOUSE_TRUSTED_PROXIES`, CIDR ranges) and the client address named
//! by the one header they write (`GATEHOUSE_TRUSTED_PROXY_HEADER`:
//! `X-Forwarded-For`, or RFC 7239's `Forwarded`). The other header, and any
//! header from any other peer, is ignored: anyone can send one.

use std::net::IpAddr;

/// An address range such as `10.0.0.0/8`, `192.0.2.7` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = ip
            .parse()
            .map_err(|_| format!("'{s}' is not an address or CIDR range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}' has a prefix length outside 0..={max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is the IPv4 one.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Parses a comma- or space-separated list of ranges.
pub fn parse_cidrs(s: &str) -> Result<Vec<Cidr>, String> {
    s.split([',', ' '])
        .filter(|p| !p.is_empty())
        .map(Cidr::parse)
        .collect()
}

/// Which header the trusted proxies write the client's address into
/// (`GATEHOUSE_TRUSTED_PROXY_HEADER`). Only that one is read: a proxy
/// passes the other through from the client untouched, so believing it
/// would let the client choose its own address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, …` (the de facto standard; nginx's
    /// `$proxy_add_x_forwarded_for`, Caddy, most load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

impl ProxyHeader {
    pub fn parse(s: &str) -> Result<ProxyHeader, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ProxyHeader::XForwardedFor),
            "forwarded" => Ok(ProxyHeader::Forwarded),
            other => Err(format!("'{other}' must be x-forwarded-for or forwarded")),
        }
    }

    /// The header's name, lower case.
    pub fn name(self) -> &'static str {
        match self {
            ProxyHeader::XForwardedFor => "x-forwarded-for",
            ProxyHeader::Forwarded => "forwarded",
        }
    }
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy;
/// then the hops listed in `lines`, every line of the one header the
/// proxies write (`header`), read in order as one comma-separated list
/// (RFC 9110 §5.3), are walked from the nearest, and the first one that is
/// not itself a trusted proxy is the client. A hop that does not parse
/// stops the walk at the last trusted address.
pub fn client_ip<'a>(
    peer: IpAddr,
    trusted: &[Cidr],
    header: ProxyHeader,
    lines: impl IntoIterator<Item = &'a str>,
) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let elements = lines
        .into_iter()
        .flat_map(|line| line.split(','))
        .map(str::trim)
        // RFC 9110 §5.6.1: empty list elements are ignored.
        .filter(|e| !e.is_empty());
    let hops: Vec<Option<IpAddr>> = match header {
        ProxyHeader::XForwardedFor => elements.map(parse_hop).collect(),
        ProxyHeader::Forwarded => elements.map(forwarded_for).collect(),
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        let Some(ip) = hop else {
            return client;
        };
        client = canonical(ip);
        if !is_trusted(client) {
            return client;
        }
    }
    client
}

/// The `for=` value of one `Forwarded` element (RFC 7239 §4).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
        .and_then(|(_, v)| parse_hop(v.trim().trim_matches('"')))
}

/// One hop: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn parse_hop(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    s.rsplit_once(':').and_then(|(ip, port)| {
        port.parse::<u16>().ok()?;
        ip.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn cidr_ranges_contain_what_they_should() {
        let net = Cidr::parse("10.0.0.0/8").unwrap_or(Cidr {
            addr: ip("0.0.0.0"),
            prefix: 32,
        });
        assert!(net.contains(ip("10.1.2.3")));
        assert!(net.contains(ip("::ffff:10.1.2.3")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").is_ok_and(|c| c.contains(ip("8.8.8.8"))));
        assert!(Cidr::parse("fd00::/8").is_ok_and(|c| c.contains(ip("fd12::1"))));
        assert!(Cidr::parse("192.0.2.7").is_ok_and(|c| !c.contains(ip("192.0.2.8"))));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    use ProxyHeader::{Forwarded, XForwardedFor};

    #[test]
    fn rfc7239_a_forwarded_address_counts_only_from_a_trusted_peer() {
        let trusted = parse_cidrs("127.0.0.1, 10.0.0.0/8").unwrap_or_default();
        let spoof = ["203.0.113.9"];
        // Untrusted peer: its header is ignored.
        assert_eq!(
            client_ip(ip("198.51.100.1"), &trusted, XForwardedFor, spoof),
            ip("198.51.100.1")
        );
        // Trusted peer: the nearest untrusted hop.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &trusted, XForwardedFor, spoof),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                &trusted,
                XForwardedFor,
                ["1.1.1.1, 203.0.113.9, 10.0.0.5"]
            ),
            ip("203.0.113.9"),
            "a client-sent first hop is not believed"
        );
        assert_eq!(
            client_ip(
                ip("10.0.0.2"),
                &trusted,
                Forwarded,
                ["for=192.0.2.60;proto=http, for=\"[2001:db8::17]:4711\""]
            ),
            ip("2001:db8::17"),
        );
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                &trusted,
                XForwardedFor,
                ["203.0.113.9, garbage"]
            ),
            ip("127.0.0.1"),
            "an unparsable hop stops the walk"
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &trusted, XForwardedFor, []),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &[], XForwardedFor, spoof),
            ip("127.0.0.1")
        );
    }

    /// RFC 9110 §5.3: several lines of one header are one list, in order.
    /// A proxy that adds its own line after the client's must be read from
    /// its line, not the client's first one.
    #[test]
    fn rfc9110_5_3_every_line_of_the_proxy_header_is_one_list() {
        let trusted = parse_cidrs("127.0.0.1").unwrap_or_default();
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                &trusted,
                XForwardedFor,
                ["6.6.6.6", "198.51.100.7"]
            ),
            ip("198.51.100.7"),
            "the client's own line comes first and is not believed"
        );
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                &trusted,
                Forwarded,
                ["for=6.6.6.6", "for=198.51.100.7;proto=https"]
            ),
            ip("198.51.100.7"),
        );
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                &trusted,
                XForwardedFor,
                ["6.6.6.6,", " ,198.51.100.7"]
            ),
            ip("198.51.100.7"),
            "empty elements are skipped (RFC 9110 §5.6.1)"
        );
    }

    #[test]
    fn proxy_header_names_parse() {
        assert_eq!(ProxyHeader::parse("X-Forwarded-For"), Ok(XForwardedFor));
        assert_eq!(ProxyHeader::parse("forwarded"), Ok(Forwarded));
        assert!(ProxyHeader::parse("x-real-ip").is_err());
        assert_eq!(ProxyHeader::default().name(), "x-forwarded-for");
    }
}
