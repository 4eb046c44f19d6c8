//! Permission profiles (ToolHive's runtime JSON format) and the egress they allow.

use std::net::IpAddr;

use serde::Deserialize;

/// What a server may reach on the network, as a NetworkPolicy can express it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Egress {
    /// Nothing (builtin `none`).
    Deny,
    /// Everything (builtin `network`, or `insecure_allow_all`).
    All,
    /// A ConfigMap profile's allow lists.
    Rules {
        /// Allowed TCP ports; empty means any port.
        ports: Vec<i32>,
        /// Allowed destinations given as IP addresses or CIDRs.
        cidrs: Vec<String>,
        /// Allowed host names. A NetworkPolicy cannot name hosts, so when this is not empty the
        /// destination is left open (the ports still apply) and the policy is not compliant.
        hosts: Vec<String>,
    },
}

/// ToolHive's runtime profile (`permissions.Profile`); only the network part matters here.
#[derive(Debug, Default, Deserialize)]
struct Profile {
    #[serde(default)]
    network: Option<Network>,
}

#[derive(Debug, Default, Deserialize)]
struct Network {
    #[serde(default)]
    outbound: Option<Outbound>,
}

#[derive(Debug, Default, Deserialize)]
struct Outbound {
    #[serde(default)]
    insecure_allow_all: bool,
    #[serde(default)]
    allow_host: Vec<String>,
    #[serde(default)]
    allow_port: Vec<i64>,
}

/// A builtin profile's egress, or `None` for an unknown name.
pub fn builtin(name: &str) -> Option<Egress> {
    match name {
        "none" => Some(Egress::Deny),
        "network" => Some(Egress::All),
        _ => None,
    }
}

/// Parses a profile JSON document into its egress; the error says what is wrong.
pub fn from_json(text: &str) -> Result<Egress, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not a valid profile JSON: {e}"))?;
    if !value.is_object() {
        return Err("not a valid profile JSON: expected an object".into());
    }
    let profile: Profile =
        serde_json::from_value(value).map_err(|e| format!("not a valid profile JSON: {e}"))?;
    let outbound = profile.network.and_then(|n| n.outbound).unwrap_or_default();
    if outbound.insecure_allow_all {
        return Ok(Egress::All);
    }
    let mut ports = Vec::new();
    for port in outbound.allow_port {
        let port = i32::try_from(port)
            .ok()
            .filter(|p| (1..=65535).contains(p))
            .ok_or_else(|| format!("allow_port {port} is not a port (1..65535)"))?;
        ports.push(port);
    }
    let (mut cidrs, mut hosts) = (Vec::new(), Vec::new());
    for host in outbound.allow_host {
        match as_cidr(&host) {
            Some(cidr) => cidrs.push(cidr),
            None => hosts.push(host),
        }
    }
    if ports.is_empty() && cidrs.is_empty() && hosts.is_empty() {
        return Ok(Egress::Deny);
    }
    Ok(Egress::Rules {
        ports,
        cidrs,
        hosts,
    })
}

/// `10.0.0.0/8` stays, `10.1.2.3` becomes `10.1.2.3/32`; a host name gives `None`.
fn as_cidr(host: &str) -> Option<String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        return Some(format!("{ip}/{bits}"));
    }
    let (ip, bits) = host.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then(|| format!("{ip}/{bits}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins() {
        assert_eq!(builtin("none"), Some(Egress::Deny));
        assert_eq!(builtin("network"), Some(Egress::All));
        assert_eq!(builtin("internet"), None);
    }

    #[test]
    fn a_configmap_profile_maps_ports_cidrs_and_hosts() {
        let egress = from_json(
            r#"{"name":"p","network":{"outbound":{"allow_host":["10.0.0.0/8","1.2.3.4",".googleapis.com"],"allow_port":[443]}}}"#,
        )
        .expect("valid");
        assert_eq!(
            egress,
            Egress::Rules {
                ports: vec![443],
                cidrs: vec!["10.0.0.0/8".into(), "1.2.3.4/32".into()],
                hosts: vec![".googleapis.com".into()],
            }
        );
        assert_eq!(
            from_json(r#"{"network":{"outbound":{"insecure_allow_all":true}}}"#),
            Ok(Egress::All)
        );
        assert_eq!(from_json("{}"), Ok(Egress::Deny));
        assert!(
            from_json(r#"{"network":{"outbound":{"allow_port":[70000]}}}"#)
                .expect_err("bad port")
                .contains("70000")
        );
        assert!(from_json("nope").is_err());
    }
}
