//! The proposal store's optimistic lock, without HTTP: of two changes made against the same
//! version, exactly one is written, with exactly one audit event.

mod support;

use apiary_app::access::Viewer;
use apiary_server::config::Runtime;
use apiary_server::onboarding::model::{DecisionRecord, ProposalKind, ProposalStatus};
use apiary_server::onboarding::store::{ProposalStore, Transition};
use apiary_server::onboarding::validate::ProposalInput;
use serde_json::json;

fn input() -> ProposalInput {
    ProposalInput {
        kind: Some(ProposalKind::Create),
        namespace: "lock".into(),
        name: "fetch".into(),
        description: "Fetches pages".into(),
        owner_team: "search".into(),
        spec: Some(json!({ "url": "http://127.0.0.1:9/mcp", "transport": "streamable-http" })),
        ..ProposalInput::default()
    }
}

fn decision(by: &str) -> DecisionRecord {
    DecisionRecord {
        by: by.into(),
        by_name: by.into(),
        at: 1,
        comment: "ok".into(),
        override_reason: None,
    }
}

#[tokio::test]
async fn two_transitions_from_one_version_write_exactly_one() {
    for db in support::all_backends().await {
        let store = ProposalStore::new(db.db.clone());
        let proposal = store
            .propose(&input(), &Viewer::local_admin(), Runtime::Local)
            .await
            .expect("proposed");
        let (olga, adam) = (decision("olga"), decision("adam"));
        let change = |to, record| Transition {
            id: &proposal.id,
            version: proposal.version,
            from: ProposalStatus::Open,
            to,
            decision: Some(record),
            error: None,
        };
        let (first, second) = tokio::join!(
            store.transition(change(ProposalStatus::Rejected, &olga), "olga"),
            store.transition(change(ProposalStatus::Approved, &adam), "adam"),
        );
        let results = [first.expect("no db error"), second.expect("no db error")];
        let written: Vec<_> = results.iter().flatten().collect();
        assert_eq!(
            written.len(),
            1,
            "exactly one change is written: {results:?}"
        );
        let now = store
            .get(&proposal.id)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(now.version, proposal.version + 1);
        assert_eq!(&now, written[0]);
        let decisions: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE target = $1 \
             AND action IN ('proposal.approved', 'proposal.rejected')",
        )
        .bind(format!("proposal/{}", proposal.id))
        .fetch_one(db.db.pool())
        .await
        .expect("count");
        assert_eq!(decisions, 1);
        // A third change against the old version is refused as well.
        let late = store
            .transition(change(ProposalStatus::Rejected, &olga), "olga")
            .await
            .expect("no db error");
        assert!(late.is_none());
    }
}
