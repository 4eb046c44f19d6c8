//! The Cedar authorization an `MCPServer` declares in ToolHive's shape, `spec.authzConfig`:
//! `type: inline` with `inline.policies` (and `inline.entitiesJson`), or `type: configMap`
//! (ToolHive's default) with `configMap.name` and `configMap.key` (default `authz.json`), whose
//! value is ToolHive's authz file (`{version, type: cedarv1, cedar: {policies, entities_json,
//! ...}}`, JSON or YAML). `groupClaimName`, `roleClaimName` and `groupEntityType` beside them
//! override the file's. Apiary's gateway evaluates the policies ([`crate::auth::cedar`]) with
//! the claims of the token the server's own OIDC verified; without such OIDC there is no
//! principal, so the server is withheld rather than judged as anonymous. What cannot be
//! enforced is an [`Unenforceable`] naming the field. Pure.

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::Value;

use crate::auth::cedar::{Options, Policies};

use super::oidc::{fault, is_set, text, Unenforceable};

/// ToolHive's default key of the ConfigMap.
pub const DEFAULT_KEY: &str = "authz.json";

/// What became of the ConfigMap that a `type: configMap` authzConfig names.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// Not looked up: only the reference itself is checked.
    NotRead,
    /// The text under its key.
    Found(&'a str),
    /// It cannot be read; the text says why (missing, no such key, local mode, ...).
    Unavailable(&'a str),
}

/// The ConfigMap (name, key) that `spec`'s authzConfig names, if it names one.
pub fn configmap(spec: &Value) -> Option<(&str, &str)> {
    let config = spec.get("authzConfig")?;
    if text(config, "type").unwrap_or("configMap") != "configMap" {
        return None;
    }
    let reference = config.get("configMap")?;
    Some((
        text(reference, "name")?,
        text(reference, "key").unwrap_or(DEFAULT_KEY),
    ))
}

/// The policies `spec` declares for the server `server`, `None` when it declares none. With
/// [`Source::NotRead`] a well-formed ConfigMap reference gives `Ok(None)`.
pub fn rule(
    spec: &Value,
    source: Source<'_>,
    server: &str,
) -> Result<Option<Policies>, Unenforceable> {
    let Some(config) = spec.get("authzConfig").filter(|c| is_set(Some(c))) else {
        return Ok(None);
    };
    if !is_set(spec.get("oidcConfig")) && !is_set(spec.get("oidcConfigRef")) {
        return Err(fault(
            "spec.authzConfig",
            "Cedar policies judge the claims of the caller's token, and the manifest declares \
             no OIDC (oidcConfig or oidcConfigRef) to verify one: Apiary does not judge \
             anonymous callers",
        ));
    }
    let (mut options, field) = match text(config, "type").unwrap_or("configMap") {
        "inline" => (inline(config)?, "spec.authzConfig.inline"),
        "configMap" => match from_configmap(config, source)? {
            Some(options) => (options, "spec.authzConfig.configMap.name"),
            None => return Ok(None),
        },
        other => {
            return Err(fault(
                "spec.authzConfig.type",
                format!("type {other}: only inline and configMap are known"),
            ))
        }
    };
    for (key, slot) in [
        ("groupClaimName", &mut options.group_claim),
        ("roleClaimName", &mut options.role_claim),
        ("groupEntityType", &mut options.group_entity_type),
    ] {
        if let Some(value) = text(config, key) {
            *slot = Some(value.to_owned());
        }
    }
    let place = match configmap(spec) {
        Some((name, key)) => format!("ConfigMap {name} key {key}: "),
        None => String::new(),
    };
    Policies::new(&options, server)
        .map(Some)
        .map_err(|why| fault(field, format!("{place}{why}")))
}

/// `type: inline`.
fn inline(config: &Value) -> Result<Options, Unenforceable> {
    let inline = config.get("inline").unwrap_or(&Value::Null);
    if text(inline, "primaryUpstreamProvider").is_some() {
        return Err(fault(
            "spec.authzConfig.inline.primaryUpstreamProvider",
            "Apiary's gateway keeps no upstream tokens to take claims from",
        ));
    }
    let policies = strings(inline.get("policies")).ok_or_else(|| {
        fault(
            "spec.authzConfig.inline.policies",
            "must be a list of Cedar policies",
        )
    })?;
    Ok(Options {
        policies,
        entities_json: text(inline, "entitiesJson").unwrap_or_default().to_owned(),
        ..Options::default()
    })
}

/// `type: configMap`, with the ConfigMap's text.
fn from_configmap(config: &Value, source: Source<'_>) -> Result<Option<Options>, Unenforceable> {
    const FIELD: &str = "spec.authzConfig.configMap.name";
    let reference = config.get("configMap").unwrap_or(&Value::Null);
    let name = text(reference, "name").ok_or_else(|| fault(FIELD, "must name a ConfigMap"))?;
    let key = text(reference, "key").unwrap_or(DEFAULT_KEY);
    let found = match source {
        Source::NotRead => return Ok(None),
        Source::Unavailable(why) => return Err(fault(FIELD, format!("ConfigMap {name}: {why}"))),
        Source::Found(found) => found,
    };
    let at = |why: String| fault(FIELD, format!("ConfigMap {name} key {key}: {why}"));
    // YAML is a superset of JSON: ToolHive reads the file either way.
    let file: Value = serde_yaml::from_str(found)
        .map_err(|e| at(format!("not a ToolHive authz file (JSON or YAML): {e}")))?;
    match text(&file, "type") {
        Some("cedarv1") => {}
        Some(other) => {
            return Err(at(format!(
                "type {other}: Apiary's gateway evaluates only Cedar (cedarv1)"
            )))
        }
        None => return Err(at("names no type (cedarv1)".into())),
    }
    let cedar = file.get("cedar").unwrap_or(&Value::Null);
    for unsupported in ["primary_upstream_provider", "multi_valued_claims"] {
        if is_set(cedar.get(unsupported)) && cedar.get(unsupported) != Some(&Value::Array(vec![])) {
            return Err(at(format!(
                "cedar.{unsupported} is not supported by Apiary's gateway"
            )));
        }
    }
    let policies = strings(cedar.get("policies"))
        .ok_or_else(|| at("cedar.policies must be a list of Cedar policies".into()))?;
    let owned = |key: &str| text(cedar, key).map(str::to_owned);
    Ok(Some(Options {
        policies,
        entities_json: owned("entities_json").unwrap_or_default(),
        group_claim: owned("group_claim_name"),
        role_claim: owned("role_claim_name"),
        group_entity_type: owned("group_entity_type"),
    }))
}

fn strings(value: Option<&Value>) -> Option<Vec<String>> {
    value?
        .as_array()?
        .iter()
        .map(|p| p.as_str().map(str::to_owned))
        .collect()
}

/// The text under `key` of `map` (the ConfigMap an `authzConfig` names), or that it has no
/// such key.
pub fn text_of(map: ConfigMap, key: &str, namespace: &str) -> Result<String, String> {
    map.data
        .and_then(|mut data| data.remove(key))
        .ok_or_else(|| format!("has no key {key} in namespace {namespace}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const OIDC: &str = "oidcConfig";

    fn spec(authz: Value) -> Value {
        json!({"image": "x", OIDC: {"type": "inline", "inline": {"issuer": "https://i", "audience": "a"}}, "authzConfig": authz})
    }

    #[test]
    fn inline_policies_are_parsed_and_a_bad_one_is_named() {
        let good = spec(json!({"type": "inline", "inline": {"policies": [
            "permit(principal, action == Action::\"call_tool\", resource == Tool::\"weather\");"]}}));
        assert!(matches!(rule(&good, Source::NotRead, "s"), Ok(Some(_))));
        let bad =
            spec(json!({"type": "inline", "inline": {"policies": ["permit(principal, action"]}}));
        let fault = rule(&bad, Source::NotRead, "s").expect_err("refused");
        assert_eq!(fault.path, "spec.authzConfig.inline");
        assert!(
            fault.reason.starts_with("policy 0 does not parse: "),
            "{}",
            fault.reason
        );
        assert!(matches!(
            rule(&json!({"image": "x"}), Source::NotRead, "s"),
            Ok(None)
        ));
    }

    #[test]
    fn policies_without_oidc_are_refused() {
        let mut without = spec(
            json!({"type": "inline", "inline": {"policies": ["permit(principal, action, resource);"]}}),
        );
        without.as_object_mut().map(|s| s.remove(OIDC));
        let fault = rule(&without, Source::NotRead, "s").expect_err("refused");
        assert_eq!(fault.path, "spec.authzConfig");
        assert!(fault.reason.contains("anonymous"), "{}", fault.reason);
    }

    #[test]
    fn a_configmap_is_read_as_toolhives_authz_file() {
        let reference = spec(json!({"type": "configMap", "configMap": {"name": "authz"}}));
        assert_eq!(configmap(&reference), Some(("authz", "authz.json")));
        assert!(matches!(rule(&reference, Source::NotRead, "s"), Ok(None)));
        let file = r#"{"version": "1.0", "type": "cedarv1", "cedar": {"policies": ["permit(principal, action, resource);"], "entities_json": "[]"}}"#;
        assert!(matches!(
            rule(&reference, Source::Found(file), "s"),
            Ok(Some(_))
        ));
        let yaml = "version: '1.0'\ntype: cedarv1\ncedar:\n  policies:\n    - 'permit(principal, action, resource);'\n";
        assert!(matches!(
            rule(&reference, Source::Found(yaml), "s"),
            Ok(Some(_))
        ));
        let missing = rule(
            &reference,
            Source::Unavailable("not found in namespace ns"),
            "s",
        )
        .expect_err("refused");
        assert_eq!(missing.path, "spec.authzConfig.configMap.name");
        assert_eq!(missing.reason, "ConfigMap authz: not found in namespace ns");
        let http = r#"{"version": "1.0", "type": "httpv1", "http": {}}"#;
        let fault = rule(&reference, Source::Found(http), "s").expect_err("refused");
        assert!(fault.reason.contains("type httpv1"), "{}", fault.reason);
        let bad = r#"{"type": "cedarv1", "cedar": {"policies": ["forbid(principal"]}}"#;
        let fault = rule(&reference, Source::Found(bad), "s").expect_err("refused");
        assert!(
            fault
                .reason
                .starts_with("ConfigMap authz key authz.json: policy 0 does not parse: "),
            "{}",
            fault.reason
        );
    }
}
