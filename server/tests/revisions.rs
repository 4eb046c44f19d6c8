//! Every applied revision is kept: any two can be diffed, and each downloads as the exact
//! manifest that was applied (GitOps).

mod support;

use serde_json::json;

#[tokio::test]
async fn any_two_revisions_diff_and_each_downloads() {
    for db in support::all_backends().await {
        let base = support::serve(&db.db).await;
        let http = reqwest::Client::new();
        for description in ["First words", "Second words", "Third words"] {
            let registered = http
                .put(format!("{base}/api/v1/servers/rev/osv"))
                .json(&json!({ "description": description, "ownerTeam": "search",
                    "spec": { "image": "ghcr.io/example/osv:1", "transport": "stdio" } }))
                .send()
                .await
                .expect("register");
            assert!(registered.status().is_success(), "{}", registered.status());
        }
        let get = |path: String| {
            let http = http.clone();
            async move { http.get(path).send().await.expect("get") }
        };
        let diff = get(format!(
            "{base}/api/v1/servers/rev/osv/revisions/diff?from=1&to=3"
        ))
        .await
        .text()
        .await
        .expect("text");
        assert!(diff.contains("--- rev/osv revision 1"), "{diff}");
        assert!(
            diff.contains("First words") && diff.contains("Third words"),
            "{diff}"
        );
        assert!(
            !diff.contains("Second words"),
            "only the two asked for: {diff}"
        );
        let lines: Vec<_> = diff
            .lines()
            .filter(|l| l.starts_with('-') || l.starts_with('+'))
            .collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with('-') && l.contains("First words")),
            "{diff}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with('+') && l.contains("Third words")),
            "{diff}"
        );

        let manifest = get(format!(
            "{base}/api/v1/servers/rev/osv/revisions/2/manifest"
        ))
        .await
        .text()
        .await
        .expect("yaml");
        let parsed: serde_yaml::Value = serde_yaml::from_str(&manifest).expect("YAML");
        assert_eq!(parsed["kind"], "MCPServer");
        assert!(manifest.contains("Second words"), "{manifest}");

        let missing = get(format!(
            "{base}/api/v1/servers/rev/osv/revisions/diff?from=1&to=9"
        ))
        .await;
        assert_eq!(missing.status(), 404);
        let same = get(format!(
            "{base}/api/v1/servers/rev/osv/revisions/diff?from=2&to=2"
        ))
        .await;
        assert_eq!(same.status(), 422);
    }
}
