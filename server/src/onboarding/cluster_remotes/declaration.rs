//! What a remote server object (`MCPRemoteProxy`, `MCPServerEntry`) declares, in Apiary's
//! terms: the server it registers, the fields that stop it from being registered, and the
//! fields Apiary keeps but does not act on. Pure: [`super`] reads the cluster and the database.
//!
//! | field | Apiary |
//! |---|---|
//! | `remoteUrl`, `allowPrivateEndpoint`, `transport` | honoured: the gateway's backend ([`super::address`]) |
//! | `groupRef` | honoured: the server is a member of the group, for its `VirtualMCPServer`s |
//! | `oidcConfigRef`, `authzConfig` | honoured by the gateway, as on an `MCPServer` |
//! | `externalAuthConfigRef`, `authServerRef`, `authzConfigRef` | kept on the server, which the gateway then withholds, naming the field |
//! | `headerForward`, `toolConfigRef` | refused: the object is not registered |
//! | the proxy pod's fields, `audit`, `telemetryConfigRef`, `caBundleRef` | flagged |

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::onboarding::manifest::annotated_metadata;
use crate::servers::ServerRegistration;

use super::address;

/// A field that Apiary refused or flagged, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldNote {
    /// Its path, such as `spec.headerForward`.
    pub field: String,
    /// What Apiary does with it, and the fix.
    pub why: String,
}

/// What an object declares.
#[derive(Clone, Debug, PartialEq)]
pub struct Declaration {
    /// The server Apiary registers; `None` when a field is refused.
    pub registration: Option<ServerRegistration>,
    /// Fields that stop the registration.
    pub refused: Vec<FieldNote>,
    /// Fields kept but not acted on; the server is still registered.
    pub flagged: Vec<FieldNote>,
}

/// What Apiary does with one spec field.
enum Treatment {
    /// Read by this module.
    Read,
    /// Copied into the registered spec, where the gateway enforces it or withholds the server.
    Copied,
    /// Stops the registration.
    Refused(&'static str),
    /// Kept, without effect.
    Flagged(&'static str),
}

const NO_POD: &str = "configures ToolHive's proxy pod; Apiary runs none (its gateway is the \
                      proxy), so it has no effect";

fn treatment(key: &str) -> Treatment {
    match key {
        // `groupRef` is read by the group's VirtualMCPServers ([`crate::onboarding::cluster_virtual`]).
        "remoteUrl" | "allowPrivateEndpoint" | "transport" | "groupRef" => Treatment::Read,
        "oidcConfigRef"
        | "authzConfig"
        | "authzConfigRef"
        | "externalAuthConfigRef"
        | "authServerRef" => Treatment::Copied,
        "headerForward" => Treatment::Refused(
            "asks for headers toward the remote server, which Apiary's gateway does not add; \
             remove it (a remote server that needs them cannot be served by Apiary yet)",
        ),
        "toolConfigRef" => Treatment::Refused(
            "names an MCPToolConfig, which Apiary does not read for remote servers, so every \
             tool would be published; remove it and curate the tools in Apiary",
        ),
        "proxyPort" | "resources" | "serviceAccount" | "podTemplateSpec" | "trustProxyHeaders"
        | "endpointPrefix" | "resourceOverrides" | "sessionAffinity" | "replicas"
        | "sessionStorage" => Treatment::Flagged(NO_POD),
        "audit" => Treatment::Flagged(
            "asks for ToolHive's audit log of requests; Apiary keeps none for gateway calls \
             (it counts calls per tool at /metrics)",
        ),
        "telemetryConfigRef" => Treatment::Flagged(
            "names an MCPTelemetryConfig, which Apiary does not serve; the gateway's metrics \
             are at /metrics",
        ),
        "caBundleRef" => Treatment::Flagged(
            "names a CA bundle, which Apiary does not read: the remote's certificate is checked \
             against the system roots, so a private CA makes every fetch fail",
        ),
        _ => Treatment::Flagged("is not a field Apiary knows; it has no effect"),
    }
}

/// What the object with `spec` (as JSON) and `annotations` declares.
pub fn declaration(spec: &Value, annotations: &BTreeMap<String, String>) -> Declaration {
    let empty = Map::new();
    let fields = spec.as_object().unwrap_or(&empty);
    let mut refused = Vec::new();
    let mut flagged = Vec::new();
    let note = |field: &str, why: &str| FieldNote {
        field: field.to_owned(),
        why: why.to_owned(),
    };
    let remote_url = fields
        .get("remoteUrl")
        .and_then(Value::as_str)
        .unwrap_or("");
    let allow_private = fields
        .get("allowPrivateEndpoint")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(why) = address::refusal(remote_url, allow_private) {
        refused.push(note("spec.remoteUrl", &why));
    }
    let transport = fields
        .get("transport")
        .and_then(Value::as_str)
        .unwrap_or("streamable-http");
    let mut registered = Map::new();
    registered.insert("url".into(), Value::from(remote_url));
    registered.insert("transport".into(), Value::from(transport));
    for (key, value) in fields {
        let field = format!("spec.{key}");
        match treatment(key) {
            Treatment::Read => {}
            Treatment::Copied => {
                registered.insert(key.clone(), value.clone());
            }
            Treatment::Refused(why) => refused.push(note(&field, why)),
            Treatment::Flagged(why) => flagged.push(note(&field, why)),
        }
    }
    let metadata = match annotated_metadata(annotations) {
        Ok(metadata) => Some(metadata),
        Err(error) => {
            refused.push(note(&error.field, &error.message));
            None
        }
    };
    let registration = match metadata {
        Some(metadata) if refused.is_empty() => Some(ServerRegistration {
            spec: Value::Object(registered),
            published: true,
            ..metadata
        }),
        _ => None,
    };
    Declaration {
        registration,
        refused,
        flagged,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(notes: &[FieldNote]) -> Vec<&str> {
        notes.iter().map(|n| n.field.as_str()).collect()
    }

    #[test]
    fn a_remote_proxy_registers_its_url_and_security_and_flags_the_pod() {
        let spec = json!({
            "remoteUrl": "https://mcp.example.com/mcp", "transport": "sse",
            "oidcConfigRef": { "name": "corp", "audience": "mcp" },
            "proxyPort": 8080, "resources": { "limits": { "cpu": "1" } },
            "groupRef": { "name": "search" },
        });
        let annotations = BTreeMap::from([
            ("apiary.dev/owner-team".to_owned(), "search".to_owned()),
            ("apiary.dev/tags".to_owned(), "web, docs".to_owned()),
        ]);
        let declared = declaration(&spec, &annotations);
        assert!(declared.refused.is_empty(), "{:?}", declared.refused);
        assert_eq!(
            fields(&declared.flagged),
            ["spec.proxyPort", "spec.resources"]
        );
        let registration = declared.registration.expect("registered");
        assert_eq!(
            registration.spec,
            json!({ "url": "https://mcp.example.com/mcp", "transport": "sse",
                    "oidcConfigRef": { "name": "corp", "audience": "mcp" } })
        );
        assert_eq!(registration.owner_team, "search");
        assert_eq!(registration.tags, ["web", "docs"]);
        assert!(registration.published);
    }

    #[test]
    fn headers_tool_filters_internal_urls_and_unknown_annotations_are_refused_by_name() {
        let spec = json!({
            "remoteUrl": "http://169.254.169.254/", "transport": "streamable-http",
            "headerForward": { "addPlaintextHeaders": { "X-Tenant": "a" } },
            "toolConfigRef": { "name": "filter" },
        });
        let annotations = BTreeMap::from([("apiary.dev/owner".to_owned(), "x".to_owned())]);
        let declared = declaration(&spec, &annotations);
        assert_eq!(declared.registration, None);
        assert_eq!(
            fields(&declared.refused),
            [
                "spec.remoteUrl",
                "spec.headerForward",
                "spec.toolConfigRef",
                "metadata.annotations[apiary.dev/owner]"
            ]
        );
    }
}
