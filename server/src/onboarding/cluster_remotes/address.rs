//! Which remote URLs a cluster object may point Apiary's gateway at, by ToolHive's rules for
//! `remoteUrl` and `allowPrivateEndpoint`: loopback, link-local (cloud metadata included),
//! unspecified and `kubernetes.default` addresses are always refused; private and unique-local
//! addresses and `*.cluster.local` names only with `allowPrivateEndpoint: true`. Names are not
//! resolved (as in ToolHive), so only what the URL says is judged.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Why `remote_url` may not be used, or `None` when it may.
pub fn refusal(remote_url: &str, allow_private: bool) -> Option<String> {
    let url = match Url::parse(remote_url) {
        Ok(url) => url,
        Err(error) => return Some(format!("is not a URL ({error}); write http(s)://host/path")),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Some(format!(
            "uses {}://; a remote MCP server is reached over http:// or https://",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some(
            "carries credentials in the URL; Apiary never stores them, so remove them".into(),
        );
    }
    match url.host() {
        None => Some("has no host".into()),
        Some(Host::Domain(name)) => domain_refusal(&name.to_ascii_lowercase(), allow_private),
        Some(Host::Ipv4(ip)) => ip_refusal(IpAddr::V4(ip), allow_private),
        Some(Host::Ipv6(ip)) => ip_refusal(IpAddr::V6(ip), allow_private),
    }
}

fn domain_refusal(name: &str, allow_private: bool) -> Option<String> {
    let name = name.trim_end_matches('.');
    if name == "localhost" || name.ends_with(".localhost") {
        return Some(format!(
            "names {name}, a loopback address, which is never allowed"
        ));
    }
    if name == "kubernetes.default" || name.starts_with("kubernetes.default.") {
        return Some(format!(
            "names {name}, the Kubernetes API, which is never allowed"
        ));
    }
    if name == "metadata.google.internal" {
        return Some(format!(
            "names {name}, a cloud metadata service, which is never allowed"
        ));
    }
    if name.ends_with(".cluster.local") && !allow_private {
        return Some(format!(
            "names {name}, an in-cluster address; set allowPrivateEndpoint: true to allow it"
        ));
    }
    None
}

fn ip_refusal(ip: IpAddr, allow_private: bool) -> Option<String> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let (never, private) = match ip {
        IpAddr::V4(v4) => (never_v4(v4), v4.is_private()),
        IpAddr::V6(v6) => (never_v6(v6), (v6.segments()[0] & 0xfe00) == 0xfc00),
    };
    if let Some(kind) = never {
        return Some(format!("is {ip}, {kind}, which is never allowed"));
    }
    if private && !allow_private {
        return Some(format!(
            "is {ip}, a private address; set allowPrivateEndpoint: true to allow it"
        ));
    }
    None
}

fn never_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_link_local() {
        Some("a link-local address (cloud metadata lives there)")
    } else if ip.is_unspecified() || ip.is_broadcast() {
        Some("not a host address")
    } else {
        None
    }
}

fn never_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_loopback() {
        Some("a loopback address")
    } else if (ip.segments()[0] & 0xffc0) == 0xfe80 {
        Some("a link-local address")
    } else if ip.is_unspecified() {
        Some("not a host address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn public_hosts_pass_and_internal_ones_are_refused_by_toolhives_rules() {
        for url in [
            "https://mcp.example.com/mcp",
            "http://search.tools.svc:8080/mcp",
            "http://192.0.2.7:9000/sse",
        ] {
            assert_eq!(refusal(url, false), None, "{url}");
        }
        for url in [
            "http://127.0.0.1:8080/mcp",
            "http://localhost/mcp",
            "http://[::1]/mcp",
            "http://169.254.169.254/latest",
            "http://[::ffff:127.0.0.1]/mcp",
            "https://kubernetes.default.svc/api",
            "http://0.0.0.0:80/",
            "ftp://example.com/",
            "http://user:secret@example.com/mcp",
        ] {
            for allowed in [false, true] {
                assert!(refusal(url, allowed).is_some(), "{url} ({allowed})");
            }
        }
        for url in [
            "http://10.1.2.3/mcp",
            "http://[fd00::5]/mcp",
            "http://search.tools.svc.cluster.local/mcp",
        ] {
            let why = refusal(url, false).expect("refused without the setting");
            assert!(why.contains("allowPrivateEndpoint: true"), "{why}");
            assert_eq!(refusal(url, true), None, "{url}");
        }
    }
}
