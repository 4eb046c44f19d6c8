//! The catalog's search request (read from and written to the URL query) and its answer: one
//! page of cards plus the facet counts.

use serde::{Deserialize, Serialize};

use super::ServerCard;

/// Cards per catalog page.
pub const PAGE_SIZE: usize = 24;

/// A facet of the catalog: a server property people filter by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FacetKind {
    /// Free-form category.
    Category,
    /// Owning team.
    Owner,
    /// Data sensitivity.
    Sensitivity,
    /// Cost class.
    Cost,
    /// Active or deprecated.
    Lifecycle,
    /// How the last live fetch went.
    Health,
}

impl FacetKind {
    /// Every facet, in the order the filter form shows them.
    pub const ALL: [FacetKind; 6] = [
        FacetKind::Category,
        FacetKind::Owner,
        FacetKind::Sensitivity,
        FacetKind::Cost,
        FacetKind::Lifecycle,
        FacetKind::Health,
    ];

    /// The URL query parameter, such as `owner` in `?owner=team-x`.
    pub fn param(self) -> &'static str {
        match self {
            FacetKind::Category => "category",
            FacetKind::Owner => "owner",
            FacetKind::Sensitivity => "sensitivity",
            FacetKind::Cost => "cost",
            FacetKind::Lifecycle => "lifecycle",
            FacetKind::Health => "health",
        }
    }

    /// The label of the facet's control.
    pub fn label(self) -> &'static str {
        match self {
            FacetKind::Category => "Category",
            FacetKind::Owner => "Owner team",
            FacetKind::Sensitivity => "Sensitivity",
            FacetKind::Cost => "Cost class",
            FacetKind::Lifecycle => "Lifecycle",
            FacetKind::Health => "Health",
        }
    }
}

/// The order of the catalog's cards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatalogSort {
    /// By `namespace/name`, A to Z.
    #[default]
    Name,
    /// Failing first, then slow, not checked yet, and healthy; by name within each.
    Health,
    /// Most published tools first; by name among equals.
    Tools,
}

impl CatalogSort {
    /// Every order, in the order the sort control shows them.
    pub const ALL: [CatalogSort; 3] = [CatalogSort::Name, CatalogSort::Health, CatalogSort::Tools];

    /// The value of the URL query parameter `sort`.
    pub fn param(self) -> &'static str {
        match self {
            CatalogSort::Name => "name",
            CatalogSort::Health => "health",
            CatalogSort::Tools => "tools",
        }
    }

    /// How the sort control names it.
    pub fn label(self) -> &'static str {
        match self {
            CatalogSort::Name => "Name (A to Z)",
            CatalogSort::Health => "Needs attention first",
            CatalogSort::Tools => "Most tools",
        }
    }

    /// The order `param` names; `None` for anything else.
    pub fn parse(param: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|sort| sort.param() == param)
    }
}

/// What the catalog is asked for: free text, one value per facet (empty means any), an order
/// and a page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogQuery {
    /// Words that must all appear in the server's name, description, owner, category, or its
    /// tools' names and descriptions.
    pub text: String,
    /// Selected facet values, in [`FacetKind::ALL`] order; empty means any.
    pub filters: [String; 6],
    /// The order of the cards.
    #[serde(default)]
    pub sort: CatalogSort,
    /// One-based page number.
    pub page: usize,
}

impl CatalogQuery {
    /// Reads the query from URL parameters (`q`, the facet parameters, `sort`, `page`). Missing
    /// or malformed values mean "any", by name, and page 1.
    pub fn from_params(param: impl Fn(&str) -> Option<String>) -> Self {
        let filters =
            FacetKind::ALL.map(|kind| param(kind.param()).unwrap_or_default().trim().to_owned());
        Self {
            text: param("q").unwrap_or_default().trim().to_owned(),
            filters,
            sort: param("sort")
                .and_then(|s| CatalogSort::parse(s.trim()))
                .unwrap_or_default(),
            page: param("page")
                .and_then(|p| p.trim().parse().ok())
                .filter(|p| *p >= 1)
                .unwrap_or(1),
        }
    }

    /// The selected value of `kind`, empty for any.
    pub fn filter(&self, kind: FacetKind) -> &str {
        FacetKind::ALL
            .iter()
            .position(|k| *k == kind)
            .map_or("", |i| self.filters[i].as_str())
    }

    /// True when neither text nor any facet narrows the catalog.
    pub fn is_unfiltered(&self) -> bool {
        self.text.is_empty() && self.filters.iter().all(String::is_empty)
    }

    /// The catalog URL for this query at `page`, with only the parameters that are set, so
    /// links stay short and shareable.
    pub fn href_for_page(&self, page: usize) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !self.text.is_empty() {
            pairs.push(("q", self.text.clone()));
        }
        for kind in FacetKind::ALL {
            let value = self.filter(kind);
            if !value.is_empty() {
                pairs.push((kind.param(), value.to_owned()));
            }
        }
        if self.sort != CatalogSort::Name {
            pairs.push(("sort", self.sort.param().to_owned()));
        }
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        if pairs.is_empty() {
            return "/".into();
        }
        let query: Vec<String> = pairs
            .iter()
            .map(|(key, value)| format!("{key}={}", encode_query_value(value)))
            .collect();
        format!("/?{}", query.join("&"))
    }
}

/// Percent-encodes a query value (form encoding: a space becomes `+`).
fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// One value of a facet and how many servers have it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetValue {
    /// The value as it appears in the URL.
    pub value: String,
    /// The value as people read it.
    pub label: String,
    /// Servers with this value that match the text and every *other* facet.
    pub count: usize,
}

/// A facet with its values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facet {
    /// Which facet.
    pub kind: FacetKind,
    /// Its values, sorted by label.
    pub values: Vec<FacetValue>,
}

/// One page of catalog results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogResults {
    /// The cards on this page.
    pub cards: Vec<ServerCard>,
    /// Servers in the catalog at all (not retired).
    pub total: usize,
    /// Servers that match the query.
    pub matching: usize,
    /// The page shown (clamped to the last page).
    pub page: usize,
    /// How many pages the matching servers fill (at least 1).
    pub page_count: usize,
    /// Every facet with its value counts.
    pub facets: Vec<Facet>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn a_query_round_trips_through_its_url() {
        let query = CatalogQuery::from_params(params(&[
            ("q", " time zone "),
            ("owner", "team-x"),
            ("health", "slow"),
            ("page", "2"),
        ]));
        assert_eq!(query.text, "time zone");
        assert_eq!(query.filter(FacetKind::Owner), "team-x");
        assert_eq!(query.filter(FacetKind::Category), "");
        assert_eq!(query.page, 2);
        assert_eq!(
            query.href_for_page(3),
            "/?q=time+zone&owner=team-x&health=slow&page=3"
        );
        assert_eq!(CatalogQuery::default().href_for_page(1), "/");
    }

    #[test]
    fn the_order_round_trips_and_the_default_stays_out_of_the_url() {
        let query = CatalogQuery::from_params(params(&[("sort", "tools"), ("q", "git")]));
        assert_eq!(query.sort, CatalogSort::Tools);
        assert_eq!(query.href_for_page(2), "/?q=git&sort=tools&page=2");
        for name in ["name", "", "newest", "TOOLS"] {
            let query = CatalogQuery::from_params(params(&[("sort", name)]));
            assert_eq!(query.sort, CatalogSort::Name, "{name:?}");
            assert_eq!(query.href_for_page(1), "/");
        }
    }

    #[test]
    fn bad_pages_fall_back_to_the_first() {
        for page in ["0", "-1", "two", ""] {
            assert_eq!(CatalogQuery::from_params(params(&[("page", page)])).page, 1);
        }
    }

    #[test]
    fn values_are_percent_encoded() {
        let query = CatalogQuery {
            text: "a&b=c/ü".into(),
            ..CatalogQuery::default()
        };
        assert_eq!(query.href_for_page(1), "/?q=a%26b%3Dc%2F%C3%BC");
    }
}
