//! The audit log as the console shows it: filters in the URL and one page of entries.

use serde::{Deserialize, Serialize};

/// How many entries one page of the audit log shows.
pub const PAGE_SIZE: usize = 50;

/// The audit log's filters, kept in the page URL (`/admin/audit?actor=…&action=…`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// Exact actor (a subject such as `local-admin` or `https://issuer#sub`).
    pub actor: String,
    /// Exact action, such as `server.curate`.
    pub action: String,
    /// Target text the entry's target contains, such as `team/` or `team/search`.
    pub target: String,
    /// 1-based page number.
    pub page: usize,
}

impl AuditQuery {
    /// The query string of these filters (without `page`), for links to other pages and to
    /// the exports.
    pub fn filter_query(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("actor", self.actor.as_str()),
            ("action", self.action.as_str()),
            ("target", self.target.as_str()),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    /// The console link to `page` of these filters.
    pub fn href_for_page(&self, page: usize) -> String {
        let filters = self.filter_query();
        match (filters.is_empty(), page > 1) {
            (true, false) => "/admin/audit".into(),
            (true, true) => format!("/admin/audit?page={page}"),
            (false, false) => format!("/admin/audit?{filters}"),
            (false, true) => format!("/admin/audit?{filters}&page={page}"),
        }
    }

    /// The page number, at least 1.
    pub fn page(&self) -> usize {
        self.page.max(1)
    }
}

/// The console page of an audit event's target, when there is one: a server's page, a virtual
/// server's section, a proposal's review. `None` once the target was deleted.
pub fn target_href(action: &str, target: &str) -> Option<String> {
    if let Some(id) = target.strip_prefix("proposal/") {
        return Some(format!("/reviews/{id}"));
    }
    match action {
        "server.delete" | "virtual_server.delete" => None,
        "virtual_server.save" => Some(format!("/virtual-servers#{}", target.replace('/', "-"))),
        server if server.starts_with("server.") => Some(format!("/servers/{target}")),
        _ => None,
    }
}

/// One audit event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// When, for display.
    pub at: super::moment::Moment,
    /// Who did it: their stable subject.
    pub actor: String,
    /// Who did it, as people know them (`None` for entries written before names were kept).
    #[serde(default)]
    pub actor_name: Option<String>,
    /// What they did, such as `server.register`.
    pub action: String,
    /// What it was done to, such as `team/search`.
    pub target: String,
    /// Hash of the state before, when there was one.
    pub before_hash: Option<String>,
    /// Hash of the state after.
    pub after_hash: Option<String>,
    /// The reviewer's comment, for a decision or an approval.
    pub comment: Option<String>,
}

/// One page of the filtered audit log, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// Every action in the log, for the filter.
    pub actions: Vec<String>,
    /// True when older entries follow.
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn targets_link_to_their_pages_until_deleted() {
        use super::target_href;
        assert_eq!(
            target_href("server.curate", "team/git").as_deref(),
            Some("/servers/team/git")
        );
        assert_eq!(target_href("server.delete", "team/git"), None);
        assert_eq!(
            target_href("virtual_server.save", "team/all").as_deref(),
            Some("/virtual-servers#team-all")
        );
        assert_eq!(target_href("virtual_server.delete", "team/all"), None);
        assert_eq!(
            target_href("proposal.approved", "proposal/42ab").as_deref(),
            Some("/reviews/42ab")
        );
        assert_eq!(target_href("session.sign_in", "someone"), None);
    }

    use super::*;

    #[test]
    fn filters_go_into_links_encoded() {
        let query = AuditQuery {
            actor: "https://idp.example#ab c".into(),
            action: "server.curate".into(),
            ..AuditQuery::default()
        };
        assert_eq!(
            query.href_for_page(2),
            "/admin/audit?actor=https%3A%2F%2Fidp.example%23ab+c&action=server.curate&page=2"
        );
        assert_eq!(AuditQuery::default().href_for_page(1), "/admin/audit");
    }
}
