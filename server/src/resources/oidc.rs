//! The inbound OIDC an `MCPServer` declares, in ToolHive's shapes: the legacy inline
//! `oidcConfig` (`type: inline` with `inline.issuer`, `.audience`, `.jwksUrl`), or
//! `oidcConfigRef` (`name`, `audience`) to an `MCPOIDCConfig` of `type: inline`. Apiary's gateway
//! enforces it ([`crate::gateway::inbound`]); what it cannot enforce is an [`Unenforceable`]
//! naming the field, and the server is withheld. Pure.

use serde_json::Value;

/// The tokens a server takes: JWTs of `issuer` for `audience`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcRule {
    /// The field it comes from: `spec.oidcConfig` or `spec.oidcConfigRef`.
    pub field: &'static str,
    /// The `iss` a token must carry.
    pub issuer: String,
    /// The `aud` a token must carry.
    pub audience: String,
    /// Where the signing keys are; without it, the issuer's discovery document says.
    pub jwks_url: Option<String>,
}

/// A declared OIDC setting Apiary cannot enforce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unenforceable {
    /// The field at fault, such as `spec.oidcConfig.type`.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// What became of the `MCPOIDCConfig` an `oidcConfigRef` names.
#[derive(Clone, Copy, Debug)]
pub enum Shared<'a> {
    /// Not looked up: only the reference itself is checked.
    NotRead,
    /// Its `spec`.
    Found(&'a Value),
    /// It cannot be read; the text says why (missing, local mode, ...).
    Unavailable(&'a str),
}

/// The field at `path` cannot be enforced, for `reason`.
pub(super) fn fault(path: impl Into<String>, reason: impl Into<String>) -> Unenforceable {
    Unenforceable {
        path: path.into(),
        reason: reason.into(),
    }
}

/// The non-empty string under `key` of `value`.
pub(super) fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// True for a value other than absent, `null` or `{}`.
pub(super) fn is_set(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Object(map)) => !map.is_empty(),
        Some(_) => true,
    }
}

/// The OIDC rule `spec` declares, `None` when it declares none. `shared` is the MCPOIDCConfig
/// of an `oidcConfigRef`; with [`Shared::NotRead`] a well-formed reference gives `Ok(None)`.
pub fn rule(spec: &Value, shared: Shared<'_>) -> Result<Option<OidcRule>, Unenforceable> {
    let inline = spec.get("oidcConfig");
    let reference = spec.get("oidcConfigRef");
    match (is_set(inline), is_set(reference)) {
        (false, false) => Ok(None),
        (true, true) => Err(fault(
            "spec.oidcConfig",
            "set oidcConfig or oidcConfigRef, not both",
        )),
        (true, false) => legacy(inline.unwrap_or(&Value::Null)).map(Some),
        (false, true) => referenced(reference.unwrap_or(&Value::Null), shared),
    }
}

/// ToolHive's legacy inline `oidcConfig` (type `kubernetes` by default).
fn legacy(config: &Value) -> Result<OidcRule, Unenforceable> {
    match text(config, "type").unwrap_or("kubernetes") {
        "inline" => {}
        "kubernetes" => {
            return Err(fault(
                "spec.oidcConfig.type",
                "type kubernetes (the default): Apiary's gateway does not validate \
                 Kubernetes service-account tokens; use type inline",
            ))
        }
        other => {
            return Err(fault(
                "spec.oidcConfig.type",
                format!("type {other}: only inline OIDC is enforced by Apiary's gateway"),
            ))
        }
    }
    let inline = config.get("inline").unwrap_or(&Value::Null);
    let audience = text(inline, "audience").ok_or_else(|| {
        fault(
            "spec.oidcConfig.inline.audience",
            "Apiary checks the audience of every token: name it",
        )
    })?;
    issuer_rule(
        "spec.oidcConfig",
        "spec.oidcConfig.inline",
        inline,
        audience,
    )
}

/// `oidcConfigRef` with the MCPOIDCConfig it names.
fn referenced(reference: &Value, shared: Shared<'_>) -> Result<Option<OidcRule>, Unenforceable> {
    let name = text(reference, "name")
        .ok_or_else(|| fault("spec.oidcConfigRef.name", "must name an MCPOIDCConfig"))?;
    let audience = text(reference, "audience").ok_or_else(|| {
        fault(
            "spec.oidcConfigRef.audience",
            "Apiary checks the audience of every token: name it",
        )
    })?;
    let config = match shared {
        Shared::NotRead => return Ok(None),
        Shared::Unavailable(why) => {
            return Err(fault(
                "spec.oidcConfigRef.name",
                format!("MCPOIDCConfig {name}: {why}"),
            ))
        }
        Shared::Found(config) => config,
    };
    match text(config, "type") {
        Some("inline") => {}
        Some(other) => {
            return Err(fault(
                "spec.oidcConfigRef.name",
                format!(
                    "MCPOIDCConfig {name} is of type {other}: Apiary's gateway enforces only \
                     type inline (it does not validate Kubernetes service-account tokens)"
                ),
            ))
        }
        None => {
            return Err(fault(
                "spec.oidcConfigRef.name",
                format!("MCPOIDCConfig {name} has no type"),
            ))
        }
    }
    let inline = config.get("inline").unwrap_or(&Value::Null);
    let rule = issuer_rule(
        "spec.oidcConfigRef",
        &format!("MCPOIDCConfig {name}: spec.inline"),
        inline,
        audience,
    )?;
    Ok(Some(rule))
}

/// The rule for an inline block (`issuer`, `jwksUrl`, `insecureAllowHTTP`) at `place`.
fn issuer_rule(
    field: &'static str,
    place: &str,
    inline: &Value,
    audience: &str,
) -> Result<OidcRule, Unenforceable> {
    let issuer = text(inline, "issuer")
        .ok_or_else(|| fault(format!("{place}.issuer"), "must name the issuer"))?;
    let jwks_url = text(inline, "jwksUrl");
    let insecure = inline.get("insecureAllowHTTP") == Some(&Value::Bool(true));
    for (key, url) in [("issuer", Some(issuer)), ("jwksUrl", jwks_url)] {
        let Some(url) = url else { continue };
        let allowed = url.starts_with("https://") || (insecure && url.starts_with("http://"));
        if !allowed {
            return Err(fault(
                format!("{place}.{key}"),
                "must be an https URL (http only with insecureAllowHTTP: true)",
            ));
        }
    }
    Ok(OidcRule {
        field,
        issuer: issuer.to_owned(),
        audience: audience.to_owned(),
        jwks_url: jwks_url.map(str::to_owned),
    })
}

/// The name of the `MCPOIDCConfig` that `spec`'s `oidcConfigRef` names, to read first.
pub fn shared_name(spec: &Value) -> Option<&str> {
    spec.get("oidcConfigRef")?
        .get("name")?
        .as_str()
        .filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inline_oidc_is_a_rule() {
        let spec = json!({"oidcConfig": {"type": "inline", "inline": {
            "issuer": "https://idp.example.com", "audience": "fetch",
            "jwksUrl": "https://idp.example.com/jwks"}}});
        assert_eq!(
            rule(&spec, Shared::NotRead),
            Ok(Some(OidcRule {
                field: "spec.oidcConfig",
                issuer: "https://idp.example.com".into(),
                audience: "fetch".into(),
                jwks_url: Some("https://idp.example.com/jwks".into()),
            }))
        );
        assert_eq!(rule(&json!({"image": "x"}), Shared::NotRead), Ok(None));
    }

    #[test]
    fn what_cannot_be_enforced_names_the_field() {
        let path = |spec: Value, shared| rule(&spec, shared).map_err(|e| e.path);
        assert_eq!(
            path(json!({"oidcConfig": {"kubernetes": {}}}), Shared::NotRead),
            Err("spec.oidcConfig.type".into()),
            "kubernetes is the default type"
        );
        assert_eq!(
            path(
                json!({"oidcConfig": {"type": "inline", "inline": {"issuer": "https://i"}}}),
                Shared::NotRead
            ),
            Err("spec.oidcConfig.inline.audience".into())
        );
        assert_eq!(
            path(
                json!({"oidcConfig": {"type": "inline", "inline": {"issuer": "http://i", "audience": "a"}}}),
                Shared::NotRead
            ),
            Err("spec.oidcConfig.inline.issuer".into()),
            "http needs insecureAllowHTTP"
        );
        let reference = json!({"oidcConfigRef": {"name": "idp", "audience": "a"}});
        assert_eq!(path(reference.clone(), Shared::NotRead), Ok(None));
        assert_eq!(
            path(reference.clone(), Shared::Unavailable("not found")),
            Err("spec.oidcConfigRef.name".into())
        );
        let sa = json!({"type": "kubernetesServiceAccount", "kubernetesServiceAccount": {}});
        let refused = rule(&reference, Shared::Found(&sa)).expect_err("refused");
        assert!(
            refused.reason.contains("type kubernetesServiceAccount"),
            "{refused:?}"
        );
        let inline = json!({"type": "inline", "inline": {"issuer": "http://127.0.0.1:1", "insecureAllowHTTP": true}});
        assert_eq!(
            rule(&reference, Shared::Found(&inline)).map(|r| r.map(|r| r.issuer)),
            Ok(Some("http://127.0.0.1:1".into()))
        );
    }
}
