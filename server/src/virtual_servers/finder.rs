//! The optional built-in tool `find_tools(query)`: for a virtual server with many tools, a
//! client lists only the finder (and the pinned tools) and asks it for the tools it needs,
//! which it may then call as usual. Matching is the catalog's: every word of the query, in
//! any case, appears in the tool's name, title or description; tools with more of the words in
//! their names come first.

use serde_json::{json, Map, Value};

use super::compose::{Composition, ExposedTool};

/// The finder's name.
pub const FINDER: &str = "find_tools";
/// Tools one answer holds by default, and at most.
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 50;

/// The finder as an MCP tool object.
pub fn tool() -> Map<String, Value> {
    let tool = json!({
        "name": FINDER,
        "title": "Find tools",
        "description": "Searches this server's tools by words in their names and descriptions and returns the matching tools with their input schemas; call them by the names returned.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": { "type": "string", "description": "Words that the tools' names or descriptions contain" },
                "limit": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "description": "At most this many tools (default 10)" }
            },
            "required": ["query"]
        },
        "annotations": { "readOnlyHint": true, "openWorldHint": false }
    });
    match tool {
        Value::Object(tool) => tool,
        _ => Map::new(),
    }
}

/// The arguments of a finder call, or what is wrong with them.
pub fn arguments(arguments: Option<&Map<String, Value>>) -> Result<(String, usize), String> {
    let query = arguments
        .and_then(|a| a.get("query"))
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
        .ok_or("query: give the words to look for, as a non-empty string")?;
    let limit = match arguments.and_then(|a| a.get("limit")) {
        None | Some(Value::Null) => DEFAULT_LIMIT,
        Some(value) => value
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or(format!("limit: give a whole number from 1 to {MAX_LIMIT}"))?,
    };
    Ok((query.to_owned(), limit))
}

/// The tools of `composition` that match `query`, best first, at most `limit`.
pub fn find<'a>(composition: &'a Composition, query: &str, limit: usize) -> Vec<&'a ExposedTool> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    let mut found: Vec<(usize, &ExposedTool)> = composition
        .tools
        .iter()
        .filter_map(|exposed| {
            let name = exposed.tool.name.to_lowercase();
            let text = format!(
                "{name} {} {}",
                exposed
                    .tool
                    .title
                    .as_deref()
                    .unwrap_or_default()
                    .to_lowercase(),
                exposed
                    .tool
                    .description
                    .as_deref()
                    .unwrap_or_default()
                    .to_lowercase()
            );
            words.iter().all(|word| text.contains(word)).then(|| {
                (
                    words.iter().filter(|word| name.contains(*word)).count(),
                    exposed,
                )
            })
        })
        .collect();
    // Most words in the name first; otherwise the server's order.
    found.sort_by_key(|(in_name, _)| std::cmp::Reverse(*in_name));
    found
        .into_iter()
        .take(limit)
        .map(|(_, tool)| tool)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::registry::model::ToolDef;

    fn composition(tools: &[(&str, &str)]) -> Composition {
        Composition {
            tools: tools
                .iter()
                .map(|(name, description)| ExposedTool {
                    tool: ToolDef::new(*name, *description, json!({ "type": "object" })),
                    member: "t/m".into(),
                    member_tool: (*name).into(),
                })
                .collect(),
            ..Composition::default()
        }
    }

    #[test]
    fn every_word_must_match_and_names_rank_first() {
        let tools = composition(&[
            ("get_weather", "Forecast for a city"),
            ("send_mail", "Sends the weather report by mail"),
            ("city_weather", "Current weather of a city"),
        ]);
        let found: Vec<&str> = find(&tools, "Weather CITY", 10)
            .iter()
            .map(|t| t.tool.name.as_str())
            .collect();
        assert_eq!(found, ["city_weather", "get_weather"]);
        assert_eq!(find(&tools, "weather", 1).len(), 1);
    }

    #[test]
    fn bad_arguments_are_named() {
        assert!(arguments(None).expect_err("refused").starts_with("query"));
        let args = json!({ "query": "x", "limit": 500 });
        assert!(arguments(args.as_object())
            .expect_err("refused")
            .starts_with("limit"));
        let args = json!({ "query": "x" });
        assert_eq!(
            arguments(args.as_object()).expect("valid"),
            ("x".into(), 10)
        );
    }
}
