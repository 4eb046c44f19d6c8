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
        self_approval: false,
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

#[tokio::test]
async fn of_two_approved_changes_from_one_base_the_second_fails_when_applied() {
    use apiary_server::onboarding::apply::{apply, ApplyTarget};
    use apiary_server::runtime::{LocalRuntime, LocalRuntimeConfig, Runtime as _};
    use apiary_server::servers::{ServerRegistration, ServerStore};
    for db in support::all_backends().await {
        let spec = json!({ "url": "http://127.0.0.1:9/mcp", "transport": "streamable-http" });
        ServerStore::new(db.db.clone())
            .register(
                "lock",
                "osv",
                &ServerRegistration {
                    description: "Before".into(),
                    owner_team: "search".into(),
                    spec: spec.clone(),
                    published: true,
                    ..ServerRegistration::default()
                },
                "seed",
            )
            .await
            .expect("registered");
        let store = ProposalStore::new(db.db.clone());
        let update = |description: &str| ProposalInput {
            kind: Some(ProposalKind::Update),
            namespace: "lock".into(),
            name: "osv".into(),
            description: description.into(),
            owner_team: "search".into(),
            spec: Some(spec.clone()),
            ..ProposalInput::default()
        };
        let author = Viewer::local_admin();
        let mut approved = Vec::new();
        for description in ["First", "Second"] {
            let proposal = store
                .propose(&update(description), &author, Runtime::Local)
                .await
                .expect("proposed");
            assert_eq!(proposal.base_revision, Some(1));
            // Both pass review before either is applied.
            let approval = decision("olga");
            let change = Transition {
                id: &proposal.id,
                version: proposal.version,
                from: ProposalStatus::Open,
                to: ProposalStatus::Approved,
                decision: Some(&approval),
                error: None,
            };
            approved.push(
                store
                    .transition(change, "olga")
                    .await
                    .expect("no db error")
                    .expect("approved"),
            );
        }
        let runtime = LocalRuntime::new(LocalRuntimeConfig::default());
        let target = ApplyTarget {
            mode: Runtime::Local,
            runtime: Some(&runtime),
            kube: None,
        };
        let mut results = Vec::new();
        for proposal in approved {
            results.push(
                apply(&store, target, proposal, &author)
                    .await
                    .expect("no db error"),
            );
        }
        assert_eq!(results[0].status, ProposalStatus::Applied);
        assert_eq!(results[1].status, ProposalStatus::Failed);
        assert!(
            results[1]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("changed while this proposal was being applied")),
            "{:?}",
            results[1].error
        );
        let description: String = sqlx::query_scalar(
            "SELECT description FROM servers WHERE namespace = 'lock' AND name = 'osv'",
        )
        .fetch_one(db.db.pool())
        .await
        .expect("read");
        assert_eq!(description, "First", "the first change stays");
        runtime.shutdown().await;
    }
}
