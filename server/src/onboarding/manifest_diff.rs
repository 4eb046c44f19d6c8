//! The side-by-side diff a reviewer reads: the approved manifest on the left, the proposed one
//! on the right, line by line, with removed and added lines marked (computed with `similar`,
//! like [`super::revision_diff`]).

use similar::{DiffOp, TextDiff};

use apiary_app::model::proposals::{DiffLine, DiffRow};

/// The rows of `before` (the approved manifest; empty for a new server) against `after` (the
/// proposed one; empty for a retirement). Unchanged lines share a row; a replaced block pairs
/// its removed and added lines row by row, and the longer side continues alone.
pub fn side_by_side(before: &str, after: &str) -> Vec<DiffRow> {
    let diff = TextDiff::from_lines(before, after);
    let (old, new) = (diff.old_slices(), diff.new_slices());
    let line = |lines: &[&str], index: usize, changed: bool| DiffLine {
        number: index + 1,
        text: lines[index].trim_end_matches(['\n', '\r']).to_owned(),
        changed,
    };
    let mut rows = Vec::with_capacity(old.len().max(new.len()));
    for op in diff.ops() {
        let (old_range, new_range) = (op.old_range(), op.new_range());
        let changed = !matches!(op, DiffOp::Equal { .. });
        for i in 0..old_range.len().max(new_range.len()) {
            rows.push(DiffRow {
                before: (i < old_range.len()).then(|| line(old, old_range.start + i, changed)),
                after: (i < new_range.len()).then(|| line(new, new_range.start + i, changed)),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row as `left | right`, with `-`/`+` on changed lines and `.` for a missing side.
    fn render(rows: &[DiffRow]) -> Vec<String> {
        let side = |line: &Option<DiffLine>, mark: &str| match line {
            None => ".".to_owned(),
            Some(l) if l.changed => format!("{mark}{} {}", l.number, l.text),
            Some(l) => format!("{} {}", l.number, l.text),
        };
        rows.iter()
            .map(|r| format!("{} | {}", side(&r.before, "-"), side(&r.after, "+")))
            .collect()
    }

    #[test]
    fn unchanged_lines_pair_and_a_changed_line_is_removed_left_and_added_right() {
        let before = "kind: MCPServer\nspec:\n  image: a:1\n  transport: stdio\n";
        let after = "kind: MCPServer\nspec:\n  image: a:2\n  transport: stdio\n  port: 8080\n";
        assert_eq!(
            render(&side_by_side(before, after)),
            [
                "1 kind: MCPServer | 1 kind: MCPServer",
                "2 spec: | 2 spec:",
                "-3   image: a:1 | +3   image: a:2",
                "4   transport: stdio | 4   transport: stdio",
                ". | +5   port: 8080",
            ]
        );
    }

    #[test]
    fn a_new_server_is_all_added_and_a_retirement_all_removed() {
        let manifest = "kind: MCPServer\nspec: {}";
        assert_eq!(
            render(&side_by_side("", manifest)),
            [". | +1 kind: MCPServer", ". | +2 spec: {}"]
        );
        assert_eq!(
            render(&side_by_side(manifest, "")),
            ["-1 kind: MCPServer | .", "-2 spec: {} | ."]
        );
        assert!(side_by_side("", "").is_empty());
    }

    #[test]
    fn a_longer_replacement_continues_on_its_own_side() {
        let rows = side_by_side("a\nb\nc\n", "a\nx\ny\nz\nc\n");
        assert_eq!(
            render(&rows),
            [
                "1 a | 1 a",
                "-2 b | +2 x",
                ". | +3 y",
                ". | +4 z",
                "3 c | 5 c",
            ]
        );
    }
}
