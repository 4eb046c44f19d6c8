//! Search, facet counts and pagination over the catalog projection. Pure: no I/O.
//!
//! Facet counts follow the usual rule of faceted search: a facet's counts apply the text and
//! every *other* facet's selection, so each option says how many servers choosing it would show.

use std::collections::BTreeMap;

use apiary_app::model::catalog_search::{
    CatalogQuery, CatalogResults, CatalogSort, Facet, FacetKind, FacetValue, PAGE_SIZE,
};
use apiary_app::model::{Health, Lifecycle};

use super::catalog_index::CatalogEntry;

/// The page of `entries` that `query` asks for, with facet counts.
pub fn search(entries: &[CatalogEntry], query: &CatalogQuery) -> CatalogResults {
    let words: Vec<String> = query
        .text
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let text_matches: Vec<&CatalogEntry> = entries.iter().filter(|e| e.matches(&words)).collect();
    let passes = |entry: &CatalogEntry, except: Option<FacetKind>| {
        FacetKind::ALL.iter().all(|kind| {
            let wanted = query.filter(*kind);
            Some(*kind) == except || wanted.is_empty() || entry.facet_value(*kind) == wanted
        })
    };
    let mut matching: Vec<&CatalogEntry> = text_matches
        .iter()
        .copied()
        .filter(|e| passes(e, None))
        .collect();
    // The entries come by name; a stable sort keeps that order among equals.
    match query.sort {
        CatalogSort::Name => {}
        CatalogSort::Health => matching.sort_by_key(|e| attention(e.health)),
        CatalogSort::Tools => {
            matching.sort_by_key(|e| std::cmp::Reverse(e.listed.card.tool_count));
        }
    }
    let facets = FacetKind::ALL
        .into_iter()
        .map(|kind| {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for entry in text_matches.iter().filter(|e| passes(e, Some(kind))) {
                let value = entry.facet_value(kind);
                if !value.is_empty() {
                    *counts.entry(value).or_default() += 1;
                }
            }
            let selected = query.filter(kind);
            if !selected.is_empty() {
                counts.entry(selected).or_default();
            }
            let mut values: Vec<FacetValue> = counts
                .into_iter()
                .map(|(value, count)| FacetValue {
                    label: facet_label(kind, value),
                    value: value.to_owned(),
                    count,
                })
                .collect();
            values.sort_by(|a, b| a.label.cmp(&b.label));
            Facet { kind, values }
        })
        .collect();
    let page_count = matching.len().div_ceil(PAGE_SIZE).max(1);
    let page = query.page.clamp(1, page_count);
    let cards = matching
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|e| e.card())
        .collect();
    CatalogResults {
        cards,
        total: entries.len(),
        matching: matching.len(),
        page,
        page_count,
        facets,
    }
}

/// How soon a server with `health` needs someone to look: failing first, healthy last.
fn attention(health: Health) -> u8 {
    match health {
        Health::Failing => 0,
        Health::Slow => 1,
        Health::Unknown => 2,
        Health::Healthy => 3,
    }
}

/// How a facet value reads: health in words, everything else as stored.
fn facet_label(kind: FacetKind, value: &str) -> String {
    let health = [
        Health::Healthy,
        Health::Slow,
        Health::Failing,
        Health::Unknown,
    ];
    let known = match kind {
        FacetKind::Health => health
            .into_iter()
            .find(|h| h.as_str() == value)
            .map(Health::label),
        FacetKind::Lifecycle => Lifecycle::parse(value).map(Lifecycle::as_str),
        _ => None,
    };
    known.unwrap_or(value).to_owned()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use apiary_app::model::{HealthEvidence, ServerCard, Transport};

    use super::super::catalog_index::ListedServer;
    use super::*;

    fn entry(name: &str, category: &str, owner: &str, health: Health, tools: &str) -> CatalogEntry {
        let listed = ListedServer {
            id: name.into(),
            card: ServerCard {
                namespace: "ns".into(),
                name: name.into(),
                description: format!("{name} server"),
                owner_team: owner.into(),
                category: category.into(),
                sensitivity: String::new(),
                cost_class: "free".into(),
                transport: Transport::Stdio,
                tool_count: 1,
                lifecycle: Lifecycle::Active,
                replacement: None,
                lifecycle_message: String::new(),
                health,
                health_reason: String::new(),
            },
            search_text: format!("ns/{name} {name} server {owner} {category} {tools}"),
            tools: Arc::default(),
        };
        CatalogEntry {
            listed: Arc::new(listed),
            health,
            evidence: HealthEvidence::default(),
        }
    }

    fn query(text: &str, filters: &[(FacetKind, &str)], page: usize) -> CatalogQuery {
        let mut query = CatalogQuery {
            text: text.into(),
            page,
            ..CatalogQuery::default()
        };
        for (kind, value) in filters {
            let index = FacetKind::ALL
                .iter()
                .position(|k| k == kind)
                .expect("a facet");
            query.filters[index] = (*value).into();
        }
        query
    }

    fn names(results: &CatalogResults) -> Vec<&str> {
        results.cards.iter().map(|c| c.name.as_str()).collect()
    }

    fn counts(results: &CatalogResults, kind: FacetKind) -> Vec<(String, usize)> {
        results
            .facets
            .iter()
            .find(|f| f.kind == kind)
            .expect("the facet")
            .values
            .iter()
            .map(|v| (v.label.clone(), v.count))
            .collect()
    }

    #[test]
    fn facets_count_with_every_other_filter_applied() {
        let entries = [
            entry("a", "search", "x", Health::Healthy, ""),
            entry("b", "search", "y", Health::Slow, ""),
            entry("c", "utilities", "x", Health::Slow, ""),
        ];
        let results = search(&entries, &query("", &[(FacetKind::Owner, "x")], 1));
        assert_eq!(names(&results), ["a", "c"]);
        assert_eq!(results.matching, 2);
        assert_eq!(results.total, 3);
        assert_eq!(
            counts(&results, FacetKind::Owner),
            [("x".to_owned(), 2), ("y".to_owned(), 1)],
            "the owner facet ignores its own selection"
        );
        assert_eq!(
            counts(&results, FacetKind::Category),
            [("search".to_owned(), 1), ("utilities".to_owned(), 1)]
        );
        assert_eq!(
            counts(&results, FacetKind::Health),
            [("healthy".to_owned(), 1), ("slow".to_owned(), 1)]
        );
        assert!(
            counts(&results, FacetKind::Sensitivity).is_empty(),
            "empty values are not listed"
        );
    }

    #[test]
    fn text_matches_every_word_including_tool_text() {
        let entries = [
            entry(
                "a",
                "search",
                "x",
                Health::Healthy,
                "get_forecast weather for a city",
            ),
            entry("b", "search", "x", Health::Healthy, "lookup_cve"),
        ];
        assert_eq!(
            names(&search(&entries, &query("Forecast CITY", &[], 1))),
            ["a"]
        );
        assert!(search(&entries, &query("forecast cve", &[], 1))
            .cards
            .is_empty());
    }

    #[test]
    fn a_selected_value_with_no_servers_stays_listed() {
        let entries = [entry("a", "search", "x", Health::Healthy, "")];
        let results = search(&entries, &query("", &[(FacetKind::Category, "gone")], 1));
        assert!(results.cards.is_empty());
        assert_eq!(
            counts(&results, FacetKind::Category),
            [("gone".to_owned(), 0), ("search".to_owned(), 1)]
        );
    }

    #[test]
    fn pages_hold_page_size_cards_and_out_of_range_pages_clamp() {
        let entries: Vec<_> = (0..30)
            .map(|i| entry(&format!("s{i:02}"), "c", "o", Health::Unknown, ""))
            .collect();
        let first = search(&entries, &query("", &[], 1));
        assert_eq!((first.cards.len(), first.page_count), (PAGE_SIZE, 2));
        let second = search(&entries, &query("", &[], 2));
        assert_eq!(names(&second), ["s24", "s25", "s26", "s27", "s28", "s29"]);
        assert_eq!(search(&entries, &query("", &[], 9)).page, 2);
    }

    #[test]
    fn orders_by_attention_or_tool_count_with_names_breaking_ties() {
        let mut entries = vec![
            entry("a", "c", "o", Health::Healthy, ""),
            entry("b", "c", "o", Health::Failing, ""),
            entry("c", "c", "o", Health::Unknown, ""),
            entry("d", "c", "o", Health::Slow, ""),
            entry("e", "c", "o", Health::Failing, ""),
        ];
        for (entry, tools) in entries.iter_mut().zip([3, 1, 7, 3, 0]) {
            Arc::make_mut(&mut entry.listed).card.tool_count = tools;
        }
        let sorted = |sort| {
            let query = CatalogQuery {
                sort,
                ..query("", &[], 1)
            };
            names(&search(&entries, &query))
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(sorted(CatalogSort::Name), ["a", "b", "c", "d", "e"]);
        assert_eq!(sorted(CatalogSort::Health), ["b", "e", "d", "c", "a"]);
        assert_eq!(sorted(CatalogSort::Tools), ["c", "a", "d", "b", "e"]);
    }
}
