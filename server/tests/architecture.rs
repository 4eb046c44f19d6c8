//! The module graph in docs/ARCHITECTURE.md is the code's: every import between the server's
//! top-level modules points down the documented ranks, except the upward ones the page lists,
//! and every listed one still exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The lines of the fenced block between `<!-- {name}:start -->` and `<!-- {name}:end -->`.
fn block(doc: &str, name: &str) -> Vec<String> {
    let start = format!("<!-- {name}:start -->");
    let end = format!("<!-- {name}:end -->");
    let from = doc
        .find(&start)
        .unwrap_or_else(|| panic!("{start} is missing"))
        + start.len();
    let to = doc[from..]
        .find(&end)
        .unwrap_or_else(|| panic!("{end} is missing"))
        + from;
    doc[from..to]
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("```"))
        .map(str::to_owned)
        .collect()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// `from -> to` for every `crate::to` path in `from`'s code outside its tests.
fn imports(src: &Path) -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut edges = BTreeSet::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a path");
        let from = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if from == "bin" || from == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read a source file");
        // Tests sit at the end of a file, in a `#[cfg(test)]` module; comments (and the
        // links in doc comments) are no imports.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (at, _) in code.match_indices("crate::") {
            let to: String = code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !to.is_empty() && to != from {
                edges.insert((from.clone(), to));
            }
        }
    }
    edges
}

#[test]
fn imports_between_modules_point_down_except_the_documented_ones() {
    let doc = std::fs::read_to_string(repo().join("docs/ARCHITECTURE.md")).expect("the page");
    let mut rank = BTreeMap::new();
    for (level, line) in block(&doc, "ranks").iter().enumerate() {
        for module in line.split_whitespace() {
            rank.insert(module.to_owned(), level);
        }
    }
    let listed: BTreeSet<(String, String)> = block(&doc, "upward")
        .iter()
        .map(|line| {
            let (from, to) = line.split_once(" -> ").expect("`from -> to`");
            (from.to_owned(), to.to_owned())
        })
        .collect();
    let edges = imports(&repo().join("server/src"));
    let rank_of = |module: &str| {
        *rank
            .get(module)
            .unwrap_or_else(|| panic!("the module {module} has no rank in docs/ARCHITECTURE.md"))
    };
    let upward: BTreeSet<(String, String)> = edges
        .iter()
        .filter(|(from, to)| rank_of(to) >= rank_of(from))
        .cloned()
        .collect();
    let new: Vec<_> = upward.difference(&listed).collect();
    assert!(
        new.is_empty(),
        "imports that point up the ranks of docs/ARCHITECTURE.md: {new:?}; import from below \
         instead (move the shared piece down)"
    );
    let gone: Vec<_> = listed.difference(&upward).collect();
    assert!(
        gone.is_empty(),
        "docs/ARCHITECTURE.md lists upward imports that no longer exist: {gone:?}; delete \
         their lines"
    );
}
