//! Tool-name globs: `*` matches any run of characters (also none), `?` exactly one.

/// True when `name` matches `pattern` as a whole. Linear in practice: the classic
/// backtracking over the last `*` only.
pub fn matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs_match_whole_names() {
        assert!(matches("get_*", "get_user"));
        assert!(matches("*", ""));
        assert!(matches("*user*", "delete_user_now"));
        assert!(matches("get_?", "get_a"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("get_*", "forget_user"));
        assert!(!matches("get_?", "get_ab"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exactly"));
    }
}
