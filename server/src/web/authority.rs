//! Strict reading of the `Host` and `Origin` headers for the local-mode and cross-site checks:
//! only `host[:port]` (and `scheme://host[:port]` for an origin), so that text such as
//! `127.0.0.1:3000@evil.example` is refused instead of being read as `127.0.0.1`.

use axum::http::uri::{Authority, Scheme};

/// A host and optional port, the host lower-cased (IPv6 addresses keep their brackets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// `localhost`, `127.0.0.1`, `[::1]`, `apiary.example.com`.
    pub host: String,
    /// The port, when one was given.
    pub port: Option<u16>,
}

/// Reads a `Host` header (or the authority of a URL): `host[:port]`, nothing else; `None` for
/// user info, a path, an empty host or a port that is not a number below 65536.
pub fn parse_host(text: &str) -> Option<HostPort> {
    if text.is_empty()
        || text.contains(['@', '/', '?', '#', '\\'])
        || text.contains(char::is_whitespace)
    {
        return None;
    }
    let authority: Authority = text.parse().ok()?;
    let host = authority.host();
    if host.is_empty() {
        return None;
    }
    // `Authority::port_u16` is `None` both without a port and with a bad one: tell them apart.
    let port = match authority.as_str().strip_prefix(host).unwrap_or_default() {
        "" => None,
        rest => Some(rest.strip_prefix(':')?.parse::<u16>().ok()?),
    };
    Some(HostPort {
        host: host.to_ascii_lowercase(),
        port,
    })
}

/// An origin, `scheme://host[:port]`, with the scheme's default port made explicit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// Host and port (the port filled in from the scheme when absent).
    pub host: HostPort,
}

/// Reads an `Origin` header or a URL's origin strictly: `http` or `https`, then a valid host
/// and port, and for a header nothing after them (a URL may have a path).
pub fn parse_origin(text: &str, allow_path: bool) -> Option<Origin> {
    let (scheme, rest) = text.split_once("://")?;
    let scheme: Scheme = scheme.parse().ok()?;
    let default_port = if scheme == Scheme::HTTPS {
        443
    } else if scheme == Scheme::HTTP {
        80
    } else {
        return None;
    };
    let authority = match rest.find('/') {
        Some(at) if allow_path => &rest[..at],
        Some(_) => return None,
        None => rest,
    };
    let mut host = parse_host(authority)?;
    host.port = Some(host.port.unwrap_or(default_port));
    Some(Origin {
        scheme: scheme.as_str().to_ascii_lowercase(),
        host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(text: &str) -> Option<(String, Option<u16>)> {
        parse_host(text).map(|h| (h.host, h.port))
    }

    #[test]
    fn hosts_are_host_and_port_only() {
        assert_eq!(
            host("localhost:3000"),
            Some(("localhost".into(), Some(3000)))
        );
        assert_eq!(host("LocalHost"), Some(("localhost".into(), None)));
        assert_eq!(host("[::1]:3000"), Some(("[::1]".into(), Some(3000))));
        assert_eq!(host("127.0.0.1"), Some(("127.0.0.1".into(), None)));
        for bad in [
            "127.0.0.1:3000@evil.example",
            "user@localhost",
            "localhost:3000/x",
            "localhost:70000",
            "localhost:abc",
            "localhost:",
            "",
            "local host",
            ":3000",
        ] {
            assert_eq!(parse_host(bad), None, "{bad:?} must be refused");
        }
    }

    #[test]
    fn origins_need_a_web_scheme_and_fill_in_the_default_port() {
        let origin = parse_origin("https://Apiary.example.com", false).expect("valid");
        assert_eq!(origin.scheme, "https");
        assert_eq!(origin.host.host, "apiary.example.com");
        assert_eq!(origin.host.port, Some(443));
        assert_eq!(
            parse_origin("http://127.0.0.1:3000", false).map(|o| o.host.port),
            Some(Some(3000))
        );
        assert!(parse_origin("https://apiary.example.com/base", true).is_some());
        for bad in [
            "https://apiary.example.com/path",
            "ftp://apiary.example.com",
            "null",
            "https://user@apiary.example.com",
            "http://127.0.0.1:3000@evil.example",
        ] {
            assert_eq!(parse_origin(bad, false), None, "{bad:?} must be refused");
        }
    }
}
