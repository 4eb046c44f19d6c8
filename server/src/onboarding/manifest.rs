//! `MCPServer` manifests for onboarding: a pasted manifest becomes a [`ProposalInput`] (parsed
//! with the operator's typed resource, Apiary's metadata read from `apiary.dev/` annotations),
//! and every applied revision is kept as the manifest YAML that was applied.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::resources::crd::{GROUP, LEGACY_VERSION, STORAGE_VERSION};
use crate::servers::ServerRegistration;
use crate::validation::FieldError;

use super::validate::ProposalInput;

/// The prefix of the annotations that carry Apiary's metadata.
pub const ANNOTATION_PREFIX: &str = "apiary.dev/";

/// The deepest nesting a pasted manifest may have; one Apiary writes has under ten levels.
pub const MAX_DEPTH: usize = 64;

/// The largest pasted manifest, in bytes. One `MCPServer` within every field limit is a few
/// KiB; parsing YAML costs about 20 ms a MiB here, so a cap well under the API's 2 MiB body cap
/// keeps every refusal fast (bench/hostile_input.sh).
pub const MAX_BYTES: usize = 256 * 1024;

/// [`parse_manifest`] on a blocking thread, so that parsing a pasted manifest never holds up an
/// async worker.
pub async fn parse_manifest_off_thread(yaml: String) -> Result<ProposalInput, FieldError> {
    tokio::task::spawn_blocking(move || parse_manifest(&yaml))
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%error, "parsing a pasted manifest failed");
            Err(FieldError::new(
                "manifest",
                "could not be read; try again, or paste it as JSON",
            ))
        })
}

/// Parses a pasted `MCPServer` manifest (`toolhive.stacklok.dev/v1alpha1` or `v1beta1`) into
/// a proposal input without a kind (the caller decides create or update). Errors name the
/// manifest field. A manifest over [`MAX_BYTES`], nested deeper than [`MAX_DEPTH`], or using
/// anchors and aliases is refused before the YAML parser reads it (see [`check_shape`]). The
/// spec is taken as written: validation checks it, so a spec without `image` (a `command` or
/// `url` server, as Apiary's own revision manifests have) reads like any other.
pub fn parse_manifest(yaml: &str) -> Result<ProposalInput, FieldError> {
    // The shape first (one linear pass): a deep or aliased manifest is named as such, whatever
    // its size.
    check_shape(yaml)?;
    if yaml.len() > MAX_BYTES {
        return Err(FieldError::new(
            "manifest",
            format!(
                "is {} bytes long; paste at most {MAX_BYTES} bytes (one MCPServer)",
                yaml.len()
            ),
        ));
    }
    let value: Value = serde_yaml::from_str(yaml).map_err(|error| {
        if error.to_string().contains("recursion limit") {
            return too_deep();
        }
        FieldError::new(
            "manifest",
            format!("is not valid YAML ({error}); paste one MCPServer document"),
        )
    })?;
    if depth(&value) > MAX_DEPTH {
        return Err(too_deep());
    }
    if !value.is_object() {
        return Err(FieldError::new(
            "manifest",
            "must be one MCPServer object with apiVersion, kind, metadata and spec",
        ));
    }
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    let accepted = [
        format!("{GROUP}/{LEGACY_VERSION}"),
        format!("{GROUP}/{STORAGE_VERSION}"),
    ];
    if !accepted.iter().any(|a| a == api_version) {
        return Err(FieldError::new(
            "apiVersion",
            format!(
                "{api_version:?} is not served; use {}",
                accepted.join(" or ")
            ),
        ));
    }
    if value["kind"].as_str() != Some("MCPServer") {
        return Err(FieldError::new(
            "kind",
            format!(
                "{} is not MCPServer; paste an MCPServer manifest",
                value["kind"]
            ),
        ));
    }
    let metadata = value.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let metadata: ObjectMeta = serde_path_to_error::deserialize(metadata).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." {
            "metadata".to_owned()
        } else {
            format!("metadata.{path}")
        };
        FieldError::new(
            field,
            format!("{}; fix it to match the MCPServer schema", error.inner()),
        )
    })?;
    let namespace = metadata.namespace.clone().ok_or_else(|| {
        FieldError::new(
            "metadata.namespace",
            "is missing; set the namespace the server belongs to",
        )
    })?;
    let name = metadata.name.clone().unwrap_or_default();
    let annotations = metadata.annotations.clone().unwrap_or_default();
    let meta = annotated_metadata(&annotations)?;
    // The spec as written, not as re-serialized: a field the typed resource ignores still
    // reaches validation, which refuses it by name.
    let spec = value.get("spec").cloned().unwrap_or_else(|| json!({}));
    Ok(ProposalInput {
        kind: None,
        namespace,
        name,
        description: meta.description,
        owner_team: meta.owner_team,
        category: meta.category,
        cost_class: meta.cost_class,
        sensitivity: meta.sensitivity,
        tags: meta.tags,
        docs_url: meta.docs_url,
        spec: Some(spec),
        published: None,
        replacement: None,
        message: None,
    })
}

/// The metadata in `annotations` (`apiary.dev/description`, `owner-team`, `category`,
/// `cost-class`, `sensitivity`, `tags` split at commas, and `docs-url`), as a registration
/// without a spec; an `apiary.dev/` annotation Apiary does not know is refused by name (a
/// misspelt key would otherwise be lost).
pub fn annotated_metadata(
    annotations: &BTreeMap<String, String>,
) -> Result<ServerRegistration, FieldError> {
    const KNOWN: [&str; 7] = [
        "description",
        "owner-team",
        "category",
        "cost-class",
        "sensitivity",
        "tags",
        "docs-url",
    ];
    for key in annotations.keys() {
        if let Some(short) = key.strip_prefix(ANNOTATION_PREFIX) {
            if !KNOWN.contains(&short) {
                return Err(FieldError::new(
                    format!("metadata.annotations[{key}]"),
                    format!(
                        "is not an Apiary annotation; use {ANNOTATION_PREFIX} with one of {}",
                        KNOWN.join(", ")
                    ),
                ));
            }
        }
    }
    let annotation = |key: &str| {
        annotations
            .get(&format!("{ANNOTATION_PREFIX}{key}"))
            .cloned()
            .unwrap_or_default()
    };
    Ok(ServerRegistration {
        description: annotation("description"),
        owner_team: annotation("owner-team"),
        category: annotation("category"),
        cost_class: annotation("cost-class"),
        sensitivity: annotation("sensitivity"),
        tags: annotation("tags")
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        docs_url: annotation("docs-url"),
        ..ServerRegistration::default()
    })
}

fn too_deep() -> FieldError {
    FieldError::new(
        "manifest",
        format!(
            "is nested deeper than {MAX_DEPTH} levels, the limit for a pasted manifest; paste \
             one MCPServer as Apiary writes it"
        ),
    )
}

/// How deeply `value` nests: a scalar is 0, a list or map one more than its deepest item.
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// One linear pass over the text that refuses, before any YAML parser reads it, nesting
/// deeper than [`MAX_DEPTH`] and anchors or aliases (`&a`, `*a`: a manifest needs none, and
/// they can multiply a small text into a huge document). The depth counted on each line is the
/// open flow collections (`[`, `{`), plus the block indentation levels, plus the compact block
/// entries (`- - x`) on the line; quoted scalars, block scalars (`|`, `>`) and comments are
/// skipped. It is within a level or two of the true depth for the nesting a manifest has, and
/// never more than twice it; the parsed document's exact depth is checked after.
pub fn check_shape(yaml: &str) -> Result<(), FieldError> {
    let mut flow = 0usize;
    let mut indents: Vec<usize> = Vec::new();
    let mut quote: Option<u8> = None;
    let mut block_scalar: Option<usize> = None;
    let spaced = |b: Option<&u8>| b.is_none_or(|b| matches!(b, b' ' | b'\t' | b'\r'));
    for line in yaml.split('\n') {
        let bytes = line.as_bytes();
        let indent = bytes.iter().take_while(|&&b| b == b' ').count();
        let blank = bytes[indent..].iter().all(u8::is_ascii_whitespace);
        if let Some(parent) = block_scalar {
            if blank || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        let mut start = indent;
        if quote.is_none() && flow == 0 {
            if blank || bytes[indent] == b'#' || (indent == 0 && bytes[0] == b'%') {
                continue;
            }
            if indent == 0
                && (line.starts_with("---") || line.starts_with("..."))
                && spaced(bytes.get(3))
            {
                indents.clear();
                start = 3;
            } else {
                while indents.last().is_some_and(|&top| top > indent) {
                    indents.pop();
                }
                if indents.last() != Some(&indent) {
                    indents.push(indent);
                }
            }
        }
        let mut compact = 0usize;
        let mut token_start = quote.is_none();
        let mut i = start;
        while i < bytes.len() {
            let c = bytes[i];
            if let Some(open) = quote {
                // An escape: `\x` in double quotes, `''` in single quotes.
                let escaped = match open {
                    b'"' => c == b'\\',
                    _ => c == b'\'' && bytes.get(i + 1) == Some(&b'\''),
                };
                if escaped {
                    i += 1;
                } else if c == open {
                    quote = None;
                }
                i += 1;
                continue;
            }
            match c {
                b' ' | b'\t' | b'\r' => {}
                b'#' if i == 0 || matches!(bytes[i - 1], b' ' | b'\t') => break,
                b'"' | b'\'' if token_start => {
                    quote = Some(c);
                    token_start = false;
                }
                b'[' | b'{' if token_start || flow > 0 => {
                    flow += 1;
                    token_start = true;
                }
                b']' | b'}' if flow > 0 => {
                    flow -= 1;
                    token_start = false;
                }
                b',' if flow > 0 => token_start = true,
                b':' if flow > 0 || spaced(bytes.get(i + 1)) => token_start = true,
                b'-' | b'?' if token_start && spaced(bytes.get(i + 1)) => {
                    if flow == 0 {
                        compact += 1;
                    }
                }
                b'&' | b'*' if token_start => {
                    return Err(FieldError::new(
                        "manifest",
                        "uses a YAML anchor or alias (& or *), which a pasted manifest may not; \
                         write each value out",
                    ))
                }
                b'!' if token_start => {
                    // A tag: the node follows it.
                    while bytes.get(i + 1).is_some_and(|b| !matches!(b, b' ' | b'\t')) {
                        i += 1;
                    }
                }
                b'|' | b'>' if token_start && flow == 0 => {
                    block_scalar = Some(indent);
                    break;
                }
                _ => token_start = false,
            }
            if flow + indents.len() + compact > MAX_DEPTH {
                return Err(too_deep());
            }
            i += 1;
        }
    }
    Ok(())
}

/// Where a field of a proposal lives in a pasted manifest, so an error about a manifest's
/// proposal names what its author wrote: `ownerTeam` is the `apiary.dev/owner-team` annotation,
/// `name` is `metadata.name`; spec fields keep their path.
pub fn manifest_field(field: &str) -> String {
    let annotation = |key: &str| format!("metadata.annotations[{ANNOTATION_PREFIX}{key}]");
    match field {
        "name" | "namespace" => format!("metadata.{field}"),
        "description" => annotation("description"),
        "ownerTeam" => annotation("owner-team"),
        "category" => annotation("category"),
        "costClass" => annotation("cost-class"),
        "sensitivity" => annotation("sensitivity"),
        "docsUrl" => annotation("docs-url"),
        tags if tags.starts_with("tags") => annotation("tags"),
        other => other.to_owned(),
    }
}

/// The manifest YAML of a revision: an `MCPServer` (`v1alpha1`) with the applied spec exactly
/// as stored and the metadata as `apiary.dev/` annotations. A local command or remote URL spec
/// keeps its `command` or `url`, which only Apiary's local runtime reads.
pub fn revision_manifest(namespace: &str, name: &str, spec: &Value, metadata: &Value) -> String {
    // Plain JSON values always serialize.
    serde_yaml::to_string(&manifest_object(namespace, name, spec, metadata)).unwrap_or_default()
}

/// An `MCPServer` manifest as Apiary writes it (`v1alpha1`) and reads it (`v1alpha1` or
/// `v1beta1`), with Apiary's metadata in `apiary.dev/` annotations.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// `toolhive.stacklok.dev/v1alpha1` (or `v1beta1` when pasted).
    pub api_version: String,
    /// `MCPServer`.
    pub kind: String,
    /// The server's name, namespace and annotations.
    pub metadata: ManifestMetadata,
    /// The `MCPServer` spec (ToolHive's fields; `command` or `url` for a local server).
    #[schema(value_type = Object)]
    pub spec: Value,
}

/// The `metadata` of a [`Manifest`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ManifestMetadata {
    /// The server's name.
    pub name: String,
    /// The server's namespace.
    pub namespace: String,
    /// `apiary.dev/description`, `owner-team`, `category`, `cost-class`, `sensitivity`,
    /// `tags` (comma-separated) and `docs-url`; absent when all are empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The `MCPServer` object (`v1alpha1`) for `spec` and `metadata`, as JSON: what the Kubernetes
/// apply sends, and what [`revision_manifest`] writes as YAML.
pub fn manifest_object(namespace: &str, name: &str, spec: &Value, metadata: &Value) -> Value {
    let text = |key: &str| metadata[key].as_str().unwrap_or_default().to_owned();
    let tags = metadata["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let annotations = [
        ("description", text("description")),
        ("owner-team", text("ownerTeam")),
        ("category", text("category")),
        ("cost-class", text("costClass")),
        ("sensitivity", text("sensitivity")),
        ("tags", tags),
        ("docs-url", text("docsUrl")),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(key, value)| (format!("{ANNOTATION_PREFIX}{key}"), value))
    .collect();
    let manifest = Manifest {
        api_version: format!("{GROUP}/{LEGACY_VERSION}"),
        kind: "MCPServer".into(),
        metadata: ManifestMetadata {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            annotations,
        },
        spec: spec.clone(),
    };
    // Strings, maps and a JSON value always serialize.
    serde_json::to_value(manifest).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_with_annotations_becomes_an_input_and_round_trips() {
        let yaml = "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\n\
                    metadata:\n  name: osv\n  namespace: tools\n  annotations:\n    \
                    apiary.dev/owner-team: search\n    apiary.dev/tags: cve, oss\n\
                    spec:\n  image: ghcr.io/stackloklabs/osv-mcp/server\n  transport: streamable-http\n";
        let input = parse_manifest(yaml).expect("parses");
        assert_eq!(input.name, "osv");
        assert_eq!(input.owner_team, "search");
        assert_eq!(input.tags, ["cve", "oss"]);
        let metadata = json!({ "ownerTeam": "search", "tags": ["cve", "oss"] });
        let rendered = revision_manifest(
            "tools",
            "osv",
            input.spec.as_ref().expect("spec"),
            &metadata,
        );
        let again = parse_manifest(&rendered).expect("the rendered manifest parses");
        assert_eq!(again.spec, input.spec);
        assert_eq!(again.tags, input.tags);
    }

    #[test]
    fn manifest_errors_name_the_field() {
        for (yaml, field) in [
            ("a: [", "manifest"),
            ("apiVersion: v1\nkind: MCPServer\nspec: {}", "apiVersion"),
            (
                "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: Pod\nspec: {}",
                "kind",
            ),
            (
                "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\nmetadata: {name: a}\nspec: {image: x}",
                "metadata.namespace",
            ),
            (
                "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\nmetadata: {name: a, namespace: b, labels: 3}\nspec: {}",
                "metadata.labels",
            ),
        ] {
            assert_eq!(parse_manifest(yaml).expect_err(yaml).field, field, "{yaml}");
        }
    }

    #[test]
    fn every_kind_of_revision_manifest_parses_back_to_its_spec_and_metadata() {
        let metadata = json!({
            "description": "Line one: [brackets], {braces}, & and *.\n  - not a list\n# not a comment",
            "ownerTeam": "search", "category": "web", "costClass": "free",
            "sensitivity": "public", "tags": ["a", "b"], "docsUrl": "https://docs.example.com/x?a=1#f",
        });
        for spec in [
            json!({ "image": "npx://@modelcontextprotocol/server-everything@2025.9.1", "transport": "stdio",
                    "args": ["--flag", "[x]", "'q'", "\"d\"", "#h", "a: b", "&a", "*b", "|", ">"],
                    "env": [{ "name": "LOG_LEVEL", "value": "info" }, { "name": "EMPTY", "value": "" }],
                    "secrets": [{ "name": "keys", "key": "token", "targetEnvName": "TOKEN" }],
                    "resources": { "limits": { "cpu": "500m", "memory": "256Mi" } },
                    "permissionProfile": { "type": "builtin", "name": "network" },
                    "proxyPort": 8080, "mcpPort": 9090 }),
            json!({ "url": "https://mcp.example.com/mcp", "transport": "streamable-http" }),
            json!({ "command": "python3", "args": ["-m", "server"], "transport": "stdio" }),
            json!({ "image": "ghcr.io/stackloklabs/osv-mcp/server:1.0", "transport": "sse" }),
        ] {
            let yaml = revision_manifest("tools", "x", &spec, &metadata);
            let input = parse_manifest(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
            assert_eq!(input.spec.as_ref(), Some(&spec), "{yaml}");
            assert_eq!(input.description, metadata["description"], "{yaml}");
            assert_eq!(input.docs_url, metadata["docsUrl"]);
            assert_eq!(input.tags, ["a", "b"]);
            assert_eq!(
                (input.namespace.as_str(), input.name.as_str()),
                ("tools", "x")
            );
        }
    }

    #[test]
    fn the_pre_scan_passes_every_real_manifest_in_the_fixtures() {
        fn walk(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("read the fixtures").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    found.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
            &mut files,
        );
        assert!(files.len() > 10, "{files:?}");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read a fixture");
            if let Err(error) = check_shape(&text) {
                panic!("{}: {error}", file.display());
            }
        }
    }

    #[test]
    fn deep_nesting_and_aliases_are_refused_before_parsing() {
        let head = "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\n\
                    metadata: {name: a, namespace: b}\nspec:\n  args: ";
        let levels = 100_000;
        let flow = format!("{head}{}{}\n", "[".repeat(levels), "]".repeat(levels));
        let maps = format!("{head}{}{}\n", "{a: ".repeat(levels), "}".repeat(levels));
        let compact = format!("{head}\n  {}x\n", "- ".repeat(levels));
        let indented: String = (0..200)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        for yaml in [flow, maps, compact, indented] {
            let error = parse_manifest(&yaml).expect_err("too deep");
            assert_eq!(error.field, "manifest");
            assert!(error.message.contains("deeper than 64 levels"), "{error}");
        }
        let nested_ok = format!("{head}{}{}\n", "[".repeat(50), "]".repeat(50));
        assert!(parse_manifest(&nested_ok).is_ok());
        let just_over = format!("{head}{}{}\n", "[".repeat(70), "]".repeat(70));
        assert!(parse_manifest(&just_over).is_err());
        for yaml in [
            format!("{head}&a [x]\n  env: *a\n"),
            format!("{head}[&a x, *a]\n"),
            format!("{head}\n  - !!str &a x\n"),
        ] {
            let error = parse_manifest(&yaml).expect_err("an alias");
            assert!(error.message.contains("anchor or alias"), "{error}");
        }
        let big = format!("{head}[{}]\n", "x, ".repeat(MAX_BYTES / 3));
        assert!(parse_manifest(&big)
            .expect_err("too big")
            .message
            .contains("bytes"));
    }
}
