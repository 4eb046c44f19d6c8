//! The one reading of a server's spec JSON: where its code comes from ([`source_of`], which the
//! registry and the console list) and what the local runtime runs ([`parse_spec`]). Pure
//! functions: no I/O.
//!
//! - `image: "npx://<package>[@version]"` runs `npx -y <package>[@version]` over stdio;
//! - `image: "uvx://<package>[@version]"` runs `uvx <package>`, or
//!   `uvx --from <package>==<version> <package>` for a pinned version, over stdio;
//! - `command` (with optional `args`) runs that program over stdio;
//! - `url` with `transport` `streamable-http` or `sse` is a remote server: nothing runs.
//!
//! `args` are appended to the command line in every process case, and `env` (a list of
//! `{name, value}`) is added to the process environment. A container image (no scheme) cannot
//! run locally.

use apiary_app::model::Transport;
use serde_json::{Map, Value};

use crate::validation::FieldError;

/// What the local runtime runs for one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalSpec {
    /// A local process that speaks MCP over its stdin and stdout.
    Process(ProcessSpec),
    /// A remote server reached at `url`; no process runs.
    Remote {
        /// The server's URL.
        url: String,
        /// `streamable-http` or `sse`.
        transport: Transport,
    },
}

/// A process to run: program, arguments and extra environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessSpec {
    /// The program, looked up on `PATH`.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables, in order.
    pub env: Vec<(String, String)>,
}

impl ProcessSpec {
    /// The command line for display, arguments separated by spaces (not shell-quoted).
    pub fn command_line(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Where a server's code comes from, as its spec names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `npx://package[@version]`.
    Npm {
        /// The package name, such as `@modelcontextprotocol/server-everything`.
        package: String,
        /// The pinned version, if any.
        version: Option<String>,
    },
    /// `uvx://package[@version]`.
    Pypi {
        /// The package name.
        package: String,
        /// The pinned version, if any.
        version: Option<String>,
    },
    /// A container image reference.
    Oci(String),
    /// A local command (its arguments are the spec's `args`).
    Command(String),
    /// A remote server's URL.
    Remote(String),
}

/// The source `spec` names: exactly one of `image` (a package with a name and version the
/// runtime can pass on, or a container image), `command` or `url`. Errors name the field and
/// say what to do.
pub fn source_of(spec: &Value) -> Result<Source, FieldError> {
    let spec = object(spec)?;
    let image = optional_str(spec, "image")?;
    let command = optional_str(spec, "command")?;
    let url = optional_str(spec, "url")?;
    match (image, command, url) {
        (Some(image), None, None) => image_source(image),
        (None, Some(command), None) => Ok(Source::Command(command.to_owned())),
        (None, None, Some(url)) => Ok(Source::Remote(url.to_owned())),
        _ => Err(FieldError::new(
            "spec",
            "set exactly one of image (a container image, npx://pkg or uvx://pkg), command or url",
        )),
    }
}

/// The transport `spec` names, stdio (as in ToolHive) when it names none or an unknown one.
pub fn transport_of(spec: &Value) -> Transport {
    object(spec).and_then(transport).unwrap_or(Transport::Stdio)
}

/// Parses a server spec (the JSON of `servers.spec`) for the local runtime. Errors name the
/// field and say what to do.
pub fn parse_spec(spec: &Value) -> Result<LocalSpec, FieldError> {
    let transport = transport(object(spec)?)?;
    let program = match source_of(spec)? {
        Source::Npm { package, version } => ProcessSpec {
            program: "npx".into(),
            args: vec![
                "-y".into(),
                match version {
                    Some(version) => format!("{package}@{version}"),
                    None => package,
                },
            ],
            env: Vec::new(),
        },
        Source::Pypi { package, version } => ProcessSpec {
            program: "uvx".into(),
            args: match version {
                Some(version) => vec!["--from".into(), format!("{package}=={version}"), package],
                None => vec![package],
            },
            env: Vec::new(),
        },
        Source::Oci(image) => {
            return Err(FieldError::new(
                "spec.image",
                format!(
                    "{image:?} is a container image, which the local runtime cannot run; use the \
                     Kubernetes runtime, or set image to npx://<package> or uvx://<package>, or set command"
                ),
            ))
        }
        Source::Command(command) => ProcessSpec {
            program: command,
            args: Vec::new(),
            env: Vec::new(),
        },
        Source::Remote(url) => return remote(&url, transport),
    };
    process(object(spec)?, transport, program)
}

fn object(spec: &Value) -> Result<&Map<String, Value>, FieldError> {
    spec.as_object().ok_or_else(|| {
        FieldError::new(
            "spec",
            "must be an object with transport and image, command or url",
        )
    })
}

fn transport(spec: &Map<String, Value>) -> Result<Transport, FieldError> {
    match optional_str(spec, "transport")? {
        None => Ok(Transport::Stdio),
        Some(text) => Transport::parse(text).ok_or_else(|| {
            FieldError::new(
                "spec.transport",
                format!("{text:?} is not a transport; use stdio, streamable-http or sse"),
            )
        }),
    }
}

/// A string field that may be absent; an empty string counts as absent.
fn optional_str<'a>(
    spec: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, FieldError> {
    match spec.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(FieldError::new(format!("spec.{key}"), "must be a string")),
    }
}

fn image_source(image: &str) -> Result<Source, FieldError> {
    let package = |rest: &str, scheme: &str| {
        split_version(rest, scheme)
            .map(|(package, version)| (package.to_owned(), version.map(str::to_owned)))
    };
    if let Some(rest) = image.strip_prefix("npx://") {
        let (package, version) = package(rest, "npx")?;
        Ok(Source::Npm { package, version })
    } else if let Some(rest) = image.strip_prefix("uvx://") {
        let (package, version) = package(rest, "uvx")?;
        Ok(Source::Pypi { package, version })
    } else if image.contains("://") {
        Err(FieldError::new(
            "spec.image",
            format!("{image:?} has an unknown scheme; use npx://<package>, uvx://<package> or a container image"),
        ))
    } else {
        Ok(Source::Oci(image.to_owned()))
    }
}

/// Splits `package[@version]`; a leading `@` (an npm scope) is part of the name.
fn split_version<'a>(
    package: &'a str,
    scheme: &str,
) -> Result<(&'a str, Option<&'a str>), FieldError> {
    let (name, version) = match package.rfind('@') {
        Some(at) if at > 0 => (&package[..at], Some(&package[at + 1..])),
        _ => (package, None),
    };
    let bad_name = name.is_empty()
        || name.starts_with('-')
        || name == "@"
        || name.ends_with('/')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@/._-".contains(c));
    if bad_name {
        return Err(FieldError::new(
            "spec.image",
            format!(
                "{package:?} is not a package name; write {scheme}://<package> or {scheme}://<package>@<version>"
            ),
        ));
    }
    if let Some(version) = version {
        let bad_version = version.is_empty()
            || version.starts_with('-')
            || !version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".+_-".contains(c));
        if bad_version {
            return Err(FieldError::new(
                "spec.image",
                format!("{version:?} is not a version; write {scheme}://<package>@<version>, such as @1.2.3"),
            ));
        }
    }
    Ok((name, version))
}

fn process(
    spec: &Map<String, Value>,
    transport: Transport,
    mut process: ProcessSpec,
) -> Result<LocalSpec, FieldError> {
    if transport != Transport::Stdio {
        return Err(FieldError::new(
            "spec.transport",
            format!(
                "is {}, but the local runtime runs processes over stdio only; set transport to \
                 stdio, or run the server yourself and register its url",
                transport.as_str()
            ),
        ));
    }
    process.args.extend(string_list(spec, "args")?);
    process.env = env_list(spec)?;
    Ok(LocalSpec::Process(process))
}

fn string_list(spec: &Map<String, Value>, key: &str) -> Result<Vec<String>, FieldError> {
    let Some(value) = spec.get(key).filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| FieldError::new(format!("spec.{key}"), "must be a list of strings"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| FieldError::new(format!("spec.{key}[{i}]"), "must be a string"))
        })
        .collect()
}

fn env_list(spec: &Map<String, Value>) -> Result<Vec<(String, String)>, FieldError> {
    let Some(value) = spec.get("env").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| FieldError::new("spec.env", "must be a list of {name, value} objects"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
            if !is_env_name(name) {
                return Err(FieldError::new(
                    format!("spec.env[{i}].name"),
                    ENV_NAME_RULE,
                ));
            }
            let value = match item.get("value") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(text)) => text.clone(),
                Some(_) => {
                    return Err(FieldError::new(
                        format!("spec.env[{i}].value"),
                        "must be a string",
                    ))
                }
            };
            Ok((name.to_owned(), value))
        })
        .collect()
}

/// True for an environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What [`is_env_name`] accepts, for messages.
pub const ENV_NAME_RULE: &str =
    "must be a variable name: letters, digits and '_', not starting with a digit";

/// True for an `http://` or `https://` URL with a host, as the parser reads it.
pub fn is_http_url(text: &str) -> bool {
    (text.starts_with("http://") || text.starts_with("https://"))
        && !text.contains(char::is_whitespace)
        && url::Url::parse(text)
            .is_ok_and(|url| url.host_str().is_some_and(|host| !host.is_empty()))
}

fn remote(url: &str, transport: Transport) -> Result<LocalSpec, FieldError> {
    if !is_http_url(url) {
        return Err(FieldError::new(
            "spec.url",
            "is not an http:// or https:// URL with a host; write the server's address, such as \
             https://mcp.example.com/mcp",
        ));
    }
    if transport == Transport::Stdio {
        return Err(FieldError::new(
            "spec.transport",
            "a url needs transport streamable-http or sse; stdio needs image or command",
        ));
    }
    Ok(LocalSpec::Remote {
        url: url.to_owned(),
        transport,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn process_of(spec: Value) -> ProcessSpec {
        match parse_spec(&spec).expect("a valid spec") {
            LocalSpec::Process(process) => process,
            other => panic!("expected a process, got {other:?}"),
        }
    }

    fn error_of(spec: Value) -> FieldError {
        parse_spec(&spec).expect_err("an invalid spec")
    }

    #[test]
    fn npx_images_run_npx_with_yes_and_the_pinned_package() {
        let process = process_of(
            json!({ "image": "npx://@modelcontextprotocol/server-everything@1.2.3", "transport": "stdio" }),
        );
        assert_eq!(process.program, "npx");
        assert_eq!(
            process.args,
            ["-y", "@modelcontextprotocol/server-everything@1.2.3"]
        );
        let unpinned = process_of(json!({ "image": "npx://@scope/pkg", "args": ["/tmp"] }));
        assert_eq!(unpinned.args, ["-y", "@scope/pkg", "/tmp"]);
        let plain = process_of(json!({ "image": "npx://pkg" }));
        assert_eq!(plain.command_line(), "npx -y pkg");
    }

    #[test]
    fn uvx_images_run_uvx_pinning_with_from() {
        let pinned = process_of(json!({ "image": "uvx://mcp-server-fetch@2025.4.7" }));
        assert_eq!(pinned.program, "uvx");
        assert_eq!(
            pinned.args,
            ["--from", "mcp-server-fetch==2025.4.7", "mcp-server-fetch"]
        );
        let plain = process_of(json!({ "image": "uvx://mcp-server-time", "transport": "stdio" }));
        assert_eq!(plain.args, ["mcp-server-time"]);
    }

    #[test]
    fn commands_run_with_args_and_env() {
        let process = process_of(json!({
            "command": "python3",
            "args": ["-m", "server"],
            "env": [{ "name": "TOKEN", "value": "x" }, { "name": "EMPTY" }],
            "transport": "stdio",
        }));
        assert_eq!(process.program, "python3");
        assert_eq!(process.args, ["-m", "server"]);
        assert_eq!(
            process.env,
            [
                ("TOKEN".into(), "x".into()),
                ("EMPTY".into(), String::new())
            ]
        );
    }

    #[test]
    fn urls_are_remote_servers() {
        let spec = parse_spec(
            &json!({ "url": "https://mcp.example.com/mcp", "transport": "streamable-http" }),
        )
        .expect("valid");
        assert_eq!(
            spec,
            LocalSpec::Remote {
                url: "https://mcp.example.com/mcp".into(),
                transport: Transport::StreamableHttp
            }
        );
        let sse = parse_spec(&json!({ "url": "http://localhost:9/sse", "transport": "sse" }))
            .expect("valid");
        assert!(matches!(
            sse,
            LocalSpec::Remote {
                transport: Transport::Sse,
                ..
            }
        ));
        assert_eq!(
            error_of(json!({ "url": "https://x/mcp" })).field,
            "spec.transport"
        );
        for url in [
            "ftp://x",
            "file:///etc/passwd",
            "https://",
            "http:// x",
            "https",
        ] {
            assert_eq!(
                error_of(json!({ "url": url, "transport": "sse" })).field,
                "spec.url",
                "{url}"
            );
        }
    }

    #[test]
    fn container_images_are_refused_naming_spec_image_and_the_kubernetes_runtime() {
        let error = error_of(
            json!({ "image": "ghcr.io/stackloklabs/osv-mcp/server", "transport": "stdio" }),
        );
        assert_eq!(error.field, "spec.image");
        assert!(error.message.contains("Kubernetes runtime"), "{error}");
        assert!(
            error
                .message
                .contains("ghcr.io/stackloklabs/osv-mcp/server"),
            "{error}"
        );
    }

    #[test]
    fn bad_fields_are_named() {
        for (spec, field) in [
            (json!("npx://x"), "spec"),
            (json!({}), "spec"),
            (json!({ "image": "npx://a", "command": "b" }), "spec"),
            (json!({ "image": "npx://-rf" }), "spec.image"),
            (json!({ "image": "npx://pkg@" }), "spec.image"),
            (json!({ "image": "uvx://a b" }), "spec.image"),
            (json!({ "image": "oci://x" }), "spec.image"),
            (json!({ "command": 3 }), "spec.command"),
            (
                json!({ "command": "x", "transport": "sse" }),
                "spec.transport",
            ),
            (
                json!({ "command": "x", "transport": "smoke" }),
                "spec.transport",
            ),
            (json!({ "command": "x", "args": "-v" }), "spec.args"),
            (json!({ "command": "x", "args": ["-v", 1] }), "spec.args[1]"),
            (
                json!({ "command": "x", "env": [{ "name": "1X" }] }),
                "spec.env[0].name",
            ),
            (
                json!({ "command": "x", "env": [{ "name": "X", "value": 1 }] }),
                "spec.env[0].value",
            ),
        ] {
            assert_eq!(error_of(spec.clone()).field, field, "{spec}");
        }
    }

    #[test]
    fn sources_are_read_from_the_spec() {
        assert_eq!(
            source_of(
                &json!({ "image": "npx://@modelcontextprotocol/server-everything@2026.8.31" })
            )
            .ok(),
            Some(Source::Npm {
                package: "@modelcontextprotocol/server-everything".into(),
                version: Some("2026.8.31".into())
            })
        );
        assert_eq!(
            source_of(&json!({ "image": "uvx://mcp-server-time" })).ok(),
            Some(Source::Pypi {
                package: "mcp-server-time".into(),
                version: None
            })
        );
        assert_eq!(
            source_of(&json!({ "image": "ghcr.io/stackloklabs/osv-mcp/server" })).ok(),
            Some(Source::Oci("ghcr.io/stackloklabs/osv-mcp/server".into()))
        );
        assert_eq!(
            source_of(&json!({ "url": "https://mcp.example.com/mcp" })).ok(),
            Some(Source::Remote("https://mcp.example.com/mcp".into()))
        );
        assert_eq!(source_of(&json!({})).ok(), None);
    }
}
