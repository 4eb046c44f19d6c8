//! Cedar policies in ToolHive's format and entity model, evaluated with the `cedar-policy`
//! crate: what a server's manifest (`authzConfig`) permits the holder of a token to do.
//!
//! The model is ToolHive's (`pkg/authz/authorizers/cedar`, stacklok/toolhive e25de16):
//! - principal `Client::"<sub>"`, whose attributes are the token's claims prefixed `claim_`,
//!   and whose parents are `THVGroup::"<group>"` (or the configured entity type) for each
//!   entry of the group claim (`groupClaimName`, else `groups`, `roles`, `cognito:groups`)
//!   and of the role claim (`roleClaimName`);
//! - action `Action::"call_tool"`, `"get_prompt"` or `"read_resource"`;
//! - resource `Tool::"<name>"`, `Prompt::"<name>"` or `Resource::"<uri>"`, child of
//!   `MCP::"<server>"`, with attributes `name`, `operation`, `feature`, the tool's annotation
//!   hints (`readOnlyHint`, ...) and the arguments prefixed `arg_` (an object or list argument
//!   only as `arg_<name>_present`);
//! - context: the `claim_` and `arg_` attributes again.
//!
//! Default deny: a request is permitted only when a `permit` matches and no `forbid` does, and
//! (as ToolHive) not at all when any policy fails to evaluate or the token has no `sub`.
//! Numbers that are integers become Cedar `Long`s (ToolHive's cedar-go makes every JSON number
//! a `decimal`, so `<` on them only works here); others become `decimal`s.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Mutex;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy,
    PolicyId, PolicySet, Request, RestrictedExpression,
};
use serde_json::{Map, Value};

/// The entity type of a principal's groups unless the config names another.
pub const DEFAULT_GROUP_TYPE: &str = "THVGroup";
/// The claims that hold groups, tried in order when no `groupClaimName` is set or it is absent.
const DEFAULT_GROUP_CLAIMS: &[&str] = &["groups", "roles", "cognito:groups"];
/// How deep claims and arguments are followed; deeper values are dropped (as ToolHive).
const MAX_DEPTH: usize = 10;
/// Tool annotation hints that become resource attributes.
const HINTS: &[&str] = &[
    "readOnlyHint",
    "destructiveHint",
    "idempotentHint",
    "openWorldHint",
];

/// A Cedar configuration: ToolHive's `cedar` options (inline, or from a ConfigMap).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// One Cedar policy per entry.
    pub policies: Vec<String>,
    /// Static entities (Cedar's JSON entity format); empty means none.
    pub entities_json: String,
    /// The claim that holds the principal's groups.
    pub group_claim: Option<String>,
    /// The claim that holds the principal's roles (also mapped to the group entity type).
    pub role_claim: Option<String>,
    /// The entity type of groups and roles; [`DEFAULT_GROUP_TYPE`] when `None`.
    pub group_entity_type: Option<String>,
}

/// What a caller asks to do.
#[derive(Clone, Copy, Debug)]
pub enum Operation<'a> {
    /// `tools/call` of the tool `name` (as the server names it).
    CallTool {
        /// The tool.
        name: &'a str,
        /// Its arguments.
        arguments: Option<&'a Map<String, Value>>,
    },
    /// `prompts/get`.
    GetPrompt {
        /// The prompt.
        name: &'a str,
        /// Its arguments.
        arguments: Option<&'a Map<String, Value>>,
    },
    /// `resources/read` (and subscribing to it).
    ReadResource {
        /// The resource's URI.
        uri: &'a str,
    },
}

/// Parsed policies and entities of one server, ready to decide requests.
#[derive(Debug)]
pub struct Policies {
    set: PolicySet,
    entities: Entities,
    group_claim: Option<String>,
    role_claim: Option<String>,
    group_type: EntityTypeName,
    /// The server's name, the parent `MCP::"<server>"` of every resource.
    server: String,
    /// Annotation hints of the server's tools, from its last tool list.
    annotations: Mutex<HashMap<String, Map<String, Value>>>,
}

/// True when `policies` permit every request to everyone: no `forbid`, and one `permit` with
/// no scope and no condition (`permit(principal, action, resource);`). Such a set restricts
/// nothing, so a server that has it is served as one without policies. `Err` names a policy
/// that does not parse.
pub fn permits_everything(policies: &[String]) -> Result<bool, String> {
    let mut unconditional = false;
    for (index, text) in policies.iter().enumerate() {
        let policy = Policy::parse(None, text)
            .map_err(|e| format!("policy {index} does not parse: {}", parse_errors(&e)))?;
        if policy.effect() == cedar_policy::Effect::Forbid {
            return Ok(false);
        }
        let json = policy
            .to_json()
            .map_err(|e| format!("policy {index} cannot be read: {e}"))?;
        let any = |scope: &str| json[scope]["op"] == "All";
        let no_condition = json["conditions"].as_array().is_none_or(Vec::is_empty);
        unconditional |= any("principal") && any("action") && any("resource") && no_condition;
    }
    Ok(unconditional)
}

impl Policies {
    /// Parses `options` for the server `server`. The error names the policy (by its index)
    /// or the entities, with Cedar's own message.
    pub fn new(options: &Options, server: &str) -> Result<Self, String> {
        if options.policies.is_empty() {
            return Err("no policies: at least one Cedar policy is required".into());
        }
        let mut set = PolicySet::new();
        for (index, text) in options.policies.iter().enumerate() {
            let id = PolicyId::new(format!("policy{index}"));
            let policy = Policy::parse(Some(id), text)
                .map_err(|e| format!("policy {index} does not parse: {}", parse_errors(&e)))?;
            set.add(policy)
                .map_err(|e| format!("policy {index} cannot be added: {e}"))?;
        }
        let entities = match options.entities_json.trim() {
            "" => Entities::empty(),
            text => Entities::from_json_str(text, None)
                .map_err(|e| format!("entitiesJson is not a set of Cedar entities: {e}"))?,
        };
        let group_type = options
            .group_entity_type
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or(DEFAULT_GROUP_TYPE);
        if group_type.contains("::") {
            return Err(format!(
                "groupEntityType {group_type:?}: namespaced entity types are not supported"
            ));
        }
        let group_type = EntityTypeName::from_str(group_type)
            .map_err(|e| format!("groupEntityType {group_type:?} is not a Cedar type: {e}"))?;
        Ok(Self {
            set,
            entities,
            group_claim: options.group_claim.clone().filter(|c| !c.is_empty()),
            role_claim: options.role_claim.clone().filter(|c| !c.is_empty()),
            group_type,
            server: server.to_owned(),
            annotations: Mutex::default(),
        })
    }

    /// Whether the holder of a token with `claims` may do `operation`. `Err` says why no
    /// decision could be made (which denies, too).
    pub fn permits(
        &self,
        claims: &Map<String, Value>,
        operation: Operation<'_>,
    ) -> Result<bool, String> {
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or("the token has no sub: there is no principal")?;
        let claim_attrs = prefixed("claim_", claims);
        let (action, resource_type, id, mut attrs, arguments) = match operation {
            Operation::CallTool { name, arguments } => {
                let mut attrs = self.hints_of(name);
                attrs.extend(standard(name, "call", "tool"));
                ("call_tool", "Tool", name, attrs, arguments)
            }
            Operation::GetPrompt { name, arguments } => (
                "get_prompt",
                "Prompt",
                name,
                standard(name, "get", "prompt"),
                arguments,
            ),
            Operation::ReadResource { uri } => {
                let mut attrs = standard(uri, "read", "resource");
                attrs.insert("uri".into(), Value::String(uri.to_owned()));
                ("read_resource", "Resource", uri, attrs, None)
            }
        };
        let arg_attrs = arguments.map(arguments_of).unwrap_or_default();
        // ToolHive merges the arguments over the standard attributes for prompts and resources,
        // and under them for tools; the tool's standard ones were inserted last above.
        if matches!(operation, Operation::CallTool { .. }) {
            for (key, value) in &arg_attrs {
                attrs.entry(key.clone()).or_insert_with(|| value.clone());
            }
        } else {
            attrs.extend(arg_attrs.clone());
        }
        let principal = uid("Client", sub)?;
        let action_uid = uid("Action", action)?;
        let resource = uid(resource_type, id)?;
        let parents = self
            .groups(claims)
            .into_iter()
            .map(|g| EntityUid::from_type_name_and_id(self.group_type.clone(), EntityId::new(g)))
            .collect::<HashSet<_>>();
        let server = [uid("MCP", &self.server)?].into_iter().collect();
        let request_entities = [
            self.entity(principal.clone(), &claim_attrs, parents)?,
            self.entity(
                action_uid.clone(),
                &BTreeMap::from([("operation".into(), Value::String(action.into()))]),
                HashSet::new(),
            )?,
            self.entity(resource.clone(), &attrs, server)?,
        ];
        let entities = self
            .entities
            .clone()
            .upsert_entities(request_entities, None)
            .map_err(|e| format!("the request's entities: {e}"))?;
        let mut context = claim_attrs;
        context.extend(arg_attrs);
        let context = Context::from_pairs(record(&context, 0))
            .map_err(|e| format!("the request's context: {e}"))?;
        let request = Request::new(principal, action_uid, resource, context, None)
            .map_err(|e| format!("the request: {e}"))?;
        let response = Authorizer::new().is_authorized(&request, &self.set, &entities);
        let errors: Vec<_> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        if !errors.is_empty() {
            return Err(format!(
                "policies failed to evaluate: {}",
                errors.join("; ")
            ));
        }
        Ok(response.decision() == Decision::Allow)
    }

    /// The request's entity `uid`, over the static entity of that uid if there is one: its
    /// attributes are kept where the request sets none of that name, and its parents too
    /// (ToolHive replaces it whole, so that its documented `resource.owner` example fails).
    fn entity(
        &self,
        uid: EntityUid,
        attrs: &BTreeMap<String, Value>,
        mut parents: HashSet<EntityUid>,
    ) -> Result<Entity, String> {
        let mut merged: HashMap<String, RestrictedExpression> = HashMap::new();
        if let Some(known) = self.entities.get(&uid) {
            let (_, known_attrs, known_parents) = known.clone().into_inner();
            merged.extend(known_attrs);
            parents.extend(known_parents);
        }
        merged.extend(record(attrs, 0));
        Entity::new(uid.clone(), merged, parents).map_err(|e| format!("the entity {uid}: {e}"))
    }

    /// Keeps the annotation hints of `tools` (a `tools/list` result's entries), which calls
    /// of those tools are judged with as ToolHive does.
    pub fn remember_hints(&self, tools: &[Value]) {
        let mut known = crate::locks::lock(&self.annotations);
        for tool in tools {
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                continue;
            };
            let hints: Map<String, Value> = HINTS
                .iter()
                .filter_map(|hint| {
                    let value = tool.pointer(&format!("/annotations/{hint}"))?;
                    value
                        .is_boolean()
                        .then(|| ((*hint).to_owned(), value.clone()))
                })
                .collect();
            known.insert(name.to_owned(), hints);
        }
    }

    fn hints_of(&self, tool: &str) -> BTreeMap<String, Value> {
        crate::locks::lock(&self.annotations)
            .get(tool)
            .map(|hints| hints.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// The principal's groups and roles, first occurrence first.
    fn groups(&self, claims: &Map<String, Value>) -> Vec<String> {
        let mut groups = self
            .group_claim
            .as_deref()
            .and_then(|claim| strings_of(claims, claim))
            .or_else(|| {
                DEFAULT_GROUP_CLAIMS
                    .iter()
                    .find_map(|claim| strings_of(claims, claim))
            })
            .unwrap_or_default();
        if let Some(roles) = self
            .role_claim
            .as_deref()
            .and_then(|c| strings_of(claims, c))
        {
            groups.extend(roles);
        }
        let mut seen = HashSet::new();
        groups.retain(|g| seen.insert(g.clone()));
        groups
    }
}

/// The strings of the list claim `path` (a top-level name, else a dotted path into nested
/// claims); `None` when it is absent or not a list.
fn strings_of(claims: &Map<String, Value>, path: &str) -> Option<Vec<String>> {
    let value = claims.get(path).or_else(|| {
        let mut parts = path.split('.');
        let first = claims.get(parts.next()?)?;
        parts.try_fold(first, |value, part| value.get(part))
    })?;
    let items = value.as_array()?;
    Some(
        items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
    )
}

fn standard(name: &str, operation: &str, feature: &str) -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("name".into(), Value::String(name.to_owned())),
        ("operation".into(), Value::String(operation.to_owned())),
        ("feature".into(), Value::String(feature.to_owned())),
    ])
}

/// Every entry of `map` under `prefix` + its key.
fn prefixed(prefix: &str, map: &Map<String, Value>) -> BTreeMap<String, Value> {
    map.iter()
        .map(|(k, v)| (format!("{prefix}{k}"), v.clone()))
        .collect()
}

/// Arguments as ToolHive passes them: scalars as `arg_<name>`, anything else only as
/// `arg_<name>_present = true`.
fn arguments_of(arguments: &Map<String, Value>) -> BTreeMap<String, Value> {
    arguments
        .iter()
        .map(|(k, v)| match v {
            Value::String(_) | Value::Bool(_) | Value::Number(_) => (format!("arg_{k}"), v.clone()),
            _ => (format!("arg_{k}_present"), Value::Bool(true)),
        })
        .collect()
}

fn uid(kind: &str, id: &str) -> Result<EntityUid, String> {
    let kind = EntityTypeName::from_str(kind).map_err(|e| format!("entity type {kind}: {e}"))?;
    Ok(EntityUid::from_type_name_and_id(kind, EntityId::new(id)))
}

/// The Cedar values of `attrs`; values Cedar cannot hold (`null`, too deep) are left out.
fn record(
    attrs: &BTreeMap<String, Value>,
    depth: usize,
) -> impl Iterator<Item = (String, RestrictedExpression)> + '_ {
    attrs
        .iter()
        .filter_map(move |(k, v)| Some((k.clone(), value(v, depth)?)))
}

/// A JSON value as a Cedar value (ToolHive's conversion, but integers stay `Long`s).
fn value(value: &Value, depth: usize) -> Option<RestrictedExpression> {
    if depth > MAX_DEPTH {
        return None;
    }
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => RestrictedExpression::new_bool(*b),
        Value::String(s) => RestrictedExpression::new_string(s.clone()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => RestrictedExpression::new_long(i),
            None => {
                let f = n.as_f64()?;
                // Cedar decimals have four places and a range of about ±9.2e14.
                if !f.is_finite() || f.abs() >= 9.0e14 {
                    return None;
                }
                RestrictedExpression::new_decimal(format!("{f:.4}"))
            }
        },
        Value::Array(items) => {
            RestrictedExpression::new_set(items.iter().filter_map(|v| self::value(v, depth + 1)))
        }
        Value::Object(map) => {
            let fields: BTreeMap<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            RestrictedExpression::new_record(record(&fields, depth + 1).collect::<Vec<_>>()).ok()?
        }
    })
}

/// Cedar's parse errors, each with its message.
fn parse_errors(errors: &cedar_policy::ParseErrors) -> String {
    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
    list.join("; ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn policies(list: &[&str]) -> Policies {
        let options = Options {
            policies: list.iter().map(|p| (*p).to_owned()).collect(),
            ..Options::default()
        };
        Policies::new(&options, "weather").expect("parses")
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn call<'a>(name: &'a str, arguments: Option<&'a Map<String, Value>>) -> Operation<'a> {
        Operation::CallTool { name, arguments }
    }

    #[test]
    fn the_principal_is_the_subject_with_its_claims_prefixed() {
        let p = policies(&[
            r#"permit(principal == Client::"user123", action == Action::"call_tool", resource);"#,
            r#"permit(principal, action == Action::"call_tool", resource == Tool::"weather") when { principal.claim_name == "John Doe" && context.claim_name == "John Doe" };"#,
        ]);
        let user = claims(json!({"sub": "user123"}));
        assert_eq!(p.permits(&user, call("anything", None)), Ok(true));
        let john = claims(json!({"sub": "john", "name": "John Doe"}));
        assert_eq!(p.permits(&john, call("weather", None)), Ok(true));
        assert_eq!(
            p.permits(&john, call("other", None)),
            Ok(false),
            "default deny"
        );
        let nobody = claims(json!({"name": "John Doe"}));
        assert!(
            p.permits(&nobody, call("weather", None)).is_err(),
            "no sub, no principal"
        );
    }

    #[test]
    fn list_claims_are_sets_and_groups_are_parents() {
        let p = policies(&[
            r#"permit(principal, action == Action::"call_tool", resource) when { [Tool::"calculator", Tool::"translator"].contains(resource) && principal.claim_roles.contains("admin") };"#,
            r#"permit(principal in THVGroup::"ops", action == Action::"call_tool", resource == Tool::"restart");"#,
        ]);
        let admin = claims(json!({"sub": "a", "roles": ["admin"]}));
        assert_eq!(p.permits(&admin, call("calculator", None)), Ok(true));
        assert_eq!(p.permits(&admin, call("restart", None)), Ok(false));
        let ops = claims(json!({"sub": "o", "groups": ["ops"]}));
        assert_eq!(p.permits(&ops, call("restart", None)), Ok(true));
        let error = p
            .permits(&ops, call("calculator", None))
            .expect_err("a policy that cannot be evaluated denies, as in ToolHive");
        assert!(error.contains("claim_roles"), "{error}");
    }

    #[test]
    fn arguments_are_resource_and_context_attributes() {
        let p = policies(&[
            r#"permit(principal, action == Action::"call_tool", resource == Tool::"calculator") when { resource.arg_operation == "add" || context.arg_operation == "subtract" };"#,
            r#"permit(principal, action == Action::"call_tool", resource == Tool::"sensitive_data") when { resource.arg_data_level <= principal.claim_clearance_level && resource.arg_filter_present };"#,
        ]);
        let who = claims(json!({"sub": "s", "clearance_level": 3}));
        let add = claims(json!({"operation": "add", "a": 1}));
        let divide = claims(json!({"operation": "divide"}));
        assert_eq!(p.permits(&who, call("calculator", Some(&add))), Ok(true));
        assert_eq!(
            p.permits(&who, call("calculator", Some(&divide))),
            Ok(false)
        );
        let low = claims(json!({"data_level": 2, "filter": {"x": 1}}));
        let high = claims(json!({"data_level": 5, "filter": []}));
        assert_eq!(
            p.permits(&who, call("sensitive_data", Some(&low))),
            Ok(true)
        );
        assert_eq!(
            p.permits(&who, call("sensitive_data", Some(&high))),
            Ok(false)
        );
    }

    #[test]
    fn forbid_wins_and_annotations_and_static_entities_count() {
        let options = Options {
            policies: vec![
                r#"permit(principal, action == Action::"call_tool", resource) when { resource has owner && resource.owner == principal.claim_sub };"#.into(),
                r#"permit(principal, action == Action::"call_tool", resource) when { resource has readOnlyHint && resource.readOnlyHint };"#.into(),
                r#"forbid(principal, action, resource == Tool::"delete") unless { principal.claim_admin == true };"#.into(),
            ],
            entities_json: r#"[{"uid": {"type": "Tool", "id": "weather"}, "attrs": {"owner": "user123"}, "parents": []}]"#.into(),
            ..Options::default()
        };
        let p = Policies::new(&options, "s").expect("parses");
        let owner = claims(json!({"sub": "user123", "admin": false}));
        let other = claims(json!({"sub": "other", "admin": false}));
        assert_eq!(p.permits(&owner, call("weather", None)), Ok(true));
        assert_eq!(p.permits(&other, call("weather", None)), Ok(false));
        assert_eq!(p.permits(&other, call("read", None)), Ok(false));
        p.remember_hints(&[
            json!({"name": "read", "annotations": {"readOnlyHint": true}}),
            json!({"name": "delete", "annotations": {"readOnlyHint": true}}),
        ]);
        assert_eq!(p.permits(&other, call("read", None)), Ok(true));
        assert_eq!(
            p.permits(&other, call("delete", None)),
            Ok(false),
            "forbid wins"
        );
    }

    #[test]
    fn prompts_and_resources_have_their_own_actions() {
        let p = policies(&[
            r#"permit(principal, action == Action::"get_prompt", resource == Prompt::"greeting");"#,
            r#"permit(principal, action == Action::"read_resource", resource == Resource::"file:///data") when { resource.uri == "file:///data" };"#,
        ]);
        let who = claims(json!({"sub": "s"}));
        let prompt = |name| Operation::GetPrompt {
            name,
            arguments: None,
        };
        assert_eq!(p.permits(&who, prompt("greeting")), Ok(true));
        assert_eq!(p.permits(&who, call("greeting", None)), Ok(false));
        assert_eq!(
            p.permits(
                &who,
                Operation::ReadResource {
                    uri: "file:///data"
                }
            ),
            Ok(true)
        );
        assert_eq!(
            p.permits(&who, Operation::ReadResource { uri: "file:///etc" }),
            Ok(false)
        );
    }

    #[test]
    fn a_policy_that_does_not_parse_is_named_with_cedars_message() {
        let options = Options {
            policies: vec![
                r#"permit(principal, action, resource);"#.into(),
                r#"permit(principal, action == Action::"call_tool" resource);"#.into(),
            ],
            ..Options::default()
        };
        let error = Policies::new(&options, "s").expect_err("refused");
        assert!(error.starts_with("policy 1 does not parse: "), "{error}");
        let error = Policies::new(&Options::default(), "s").expect_err("refused");
        assert!(error.contains("no policies"), "{error}");
        let options = Options {
            policies: vec!["permit(principal, action, resource);".into()],
            entities_json: "{not json".into(),
            ..Options::default()
        };
        let error = Policies::new(&options, "s").expect_err("refused");
        assert!(error.starts_with("entitiesJson "), "{error}");
    }

    #[test]
    fn groups_come_from_the_named_claim_then_the_defaults_and_roles() {
        let options = Options {
            policies: vec!["permit(principal, action, resource);".into()],
            group_claim: Some("realm_access.groups".into()),
            role_claim: Some("app_roles".into()),
            group_entity_type: Some("Team".into()),
            ..Options::default()
        };
        let p = Policies::new(&options, "s").expect("parses");
        let nested = claims(
            json!({"realm_access": {"groups": ["a", "b"]}, "groups": ["x"], "app_roles": ["b", "r"]}),
        );
        assert_eq!(p.groups(&nested), ["a", "b", "r"]);
        let fallback = claims(json!({"roles": ["y"]}));
        assert_eq!(p.groups(&fallback), ["y"]);
        assert_eq!(p.group_type.to_string(), "Team");
    }
}
