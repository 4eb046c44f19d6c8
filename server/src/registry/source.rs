//! Where a server's code comes from, read from its spec: an npm or PyPI package run with
//! `npx`/`uvx`, a container image, a local command, or a remote URL.

use serde_json::Value;

use apiary_app::model::Transport;

/// The origin of a server, as the registry describes it to clients.
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
    /// A local command with arguments.
    Command {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// A remote server.
    Remote(String),
}

/// Reads the source from a server spec (`image`, `command` + `args`, or `url`).
pub fn source_of(spec: &Value) -> Option<Source> {
    let text = |key: &str| {
        spec.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if let Some(url) = text("url") {
        return Some(Source::Remote(url.to_owned()));
    }
    if let Some(command) = text("command") {
        let args = spec
            .get("args")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        return Some(Source::Command {
            command: command.to_owned(),
            args,
        });
    }
    let image = text("image")?;
    if let Some(rest) = image.strip_prefix("npx://") {
        let (package, version) = split_version(rest);
        return Some(Source::Npm { package, version });
    }
    if let Some(rest) = image.strip_prefix("uvx://") {
        let (package, version) = split_version(rest);
        return Some(Source::Pypi { package, version });
    }
    Some(Source::Oci(image.to_owned()))
}

/// The transport from a spec, defaulting to stdio as ToolHive does.
pub fn transport_of(spec: &Value) -> Transport {
    spec.get("transport")
        .and_then(Value::as_str)
        .and_then(Transport::parse)
        .unwrap_or(Transport::Stdio)
}

/// Splits `name@version`, keeping the `@` of a scoped npm name (`@scope/pkg@1.0`).
fn split_version(spec: &str) -> (String, Option<String>) {
    match spec.rfind('@') {
        Some(at) if at > 0 => (spec[..at].to_owned(), Some(spec[at + 1..].to_owned())),
        _ => (spec.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sources_are_read_from_the_spec() {
        assert_eq!(
            source_of(
                &json!({ "image": "npx://@modelcontextprotocol/server-everything@2026.8.31" })
            ),
            Some(Source::Npm {
                package: "@modelcontextprotocol/server-everything".into(),
                version: Some("2026.8.31".into())
            })
        );
        assert_eq!(
            source_of(&json!({ "image": "uvx://mcp-server-time" })),
            Some(Source::Pypi {
                package: "mcp-server-time".into(),
                version: None
            })
        );
        assert_eq!(
            source_of(&json!({ "image": "ghcr.io/stackloklabs/osv-mcp/server" })),
            Some(Source::Oci("ghcr.io/stackloklabs/osv-mcp/server".into()))
        );
        assert_eq!(
            source_of(&json!({ "url": "https://mcp.example.com/mcp" })),
            Some(Source::Remote("https://mcp.example.com/mcp".into()))
        );
        assert_eq!(source_of(&json!({})), None);
    }
}
