//! Reviewing proposals as the real signed-in users of the test provider: four-eyes, team
//! ownership, concurrent decisions, superseded proposals, policy-blocked approvals with and
//! without an admin override, and an approval applied to the local runtime.

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::proposals::{decide, propose};
use support::signed_in::{self, Client, SignedInApp};

/// A remote server on a closed loopback port: the local runtime records it, nothing runs.
fn remote_spec() -> Value {
    json!({ "url": "http://127.0.0.1:9/mcp", "transport": "streamable-http" })
}

fn create(namespace: &str, name: &str, spec: Value) -> Value {
    json!({
        "kind": "create", "namespace": namespace, "name": name,
        "description": "A server under review", "ownerTeam": "search", "spec": spec,
    })
}

fn update(namespace: &str, name: &str) -> Value {
    json!({
        "kind": "update", "namespace": namespace, "name": name,
        "description": "A better description", "ownerTeam": "search", "spec": remote_spec(),
    })
}

async fn audit_actions(db: &apiary_server::db::Db, id: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_events WHERE target = $1 ORDER BY at, action")
        .bind(format!("proposal/{id}"))
        .fetch_all(db.pool())
        .await
        .expect("audit")
}

async fn register(admin: &Client, namespace: &str, name: &str) {
    let (status, body) = admin.call(
        "PUT",
        &format!("/api/v1/servers/{namespace}/{name}"),
        Some(&json!({ "description": "Registered directly", "ownerTeam": "search", "spec": remote_spec() })),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
}

#[tokio::test]
async fn four_eyes_the_author_and_other_teams_cannot_approve_an_owner_of_the_team_can() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let paul = Client::signed_in(&app, "paul").await;
        let proposal = propose(&paul, &create("eyes", "fetch", remote_spec())).await;
        assert_eq!(proposal["authorName"], "Paul Proposer");

        let (status, refused) = decide(&paul, &proposal, "approve", json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
        let (status, refused) = decide(
            &Client::signed_in(&app, "otto").await,
            &proposal,
            "approve",
            json!({}),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "otto owns team data, not search: {refused}"
        );
        let (status, refused) = decide(
            &Client::signed_in(&app, "carol").await,
            &proposal,
            "approve",
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");

        // Paul is also an owner nowhere; make the author rule visible with an admin author.
        let adam = Client::signed_in(&app, "adam").await;
        let own = propose(&adam, &create("eyes", "own", remote_spec())).await;
        let (status, refused) = decide(&adam, &own, "approve", json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
        assert!(
            refused["error"]
                .as_str()
                .is_some_and(|e| e.contains("four-eyes")),
            "{refused}"
        );
        let own_id = own["id"].as_str().expect("id");
        assert_eq!(
            audit_actions(&db.db, own_id).await,
            ["proposal.proposed"],
            "with sign-in on, even an admin's own approval is refused and nothing is recorded"
        );

        // An owner who proposes may not approve either.
        let olga = Client::signed_in(&app, "olga").await;
        let hers = propose(&olga, &create("eyes", "hers", remote_spec())).await;
        let (status, refused) = decide(&olga, &hers, "approve", json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
        assert!(
            refused["error"]
                .as_str()
                .is_some_and(|e| e.contains("four-eyes") && e.contains("Olga Owner")),
            "{refused}"
        );

        let (status, missing) =
            decide(&olga, &proposal, "approve", json!({ "comment": "  " })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{missing}");
        assert_eq!(missing["field"], "comment");

        let (status, applied) = decide(&olga, &proposal, "approve", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{applied}");
        assert_eq!(applied["status"], "applied", "{applied}");
        assert_eq!(applied["decision"]["byName"], "Olga Owner");
        assert_eq!(applied["decision"]["comment"], "approve: looks right to me");
        assert_eq!(applied["decision"]["selfApproval"], false);

        let id = proposal["id"].as_str().expect("id");
        let mut actions = audit_actions(&db.db, id).await;
        actions.sort();
        assert_eq!(
            actions,
            audit_actions_sorted(&["proposal.proposed", "proposal.approved", "proposal.applied"]),
            "every step is audited"
        );
        let comment: Option<String> = sqlx::query_scalar(
            "SELECT comment FROM audit_events WHERE target = $1 AND action = 'proposal.approved'",
        )
        .bind(format!("proposal/{id}"))
        .fetch_one(db.db.pool())
        .await
        .expect("the approval's audit row");
        assert_eq!(comment.as_deref(), Some("approve: looks right to me"));
        let (_, revisions) = olga
            .call("GET", "/api/v1/servers/eyes/fetch/revisions", None)
            .await;
        assert_eq!(revisions["revisions"][0]["number"], 1, "{revisions}");
        assert_eq!(revisions["revisions"][0]["proposalId"], id);
        assert!(
            revisions["revisions"][0]["actor"]
                .as_str()
                .is_some_and(|a| a.ends_with("#olga")),
            "{revisions}"
        );

        // Rejecting is a decision too, with its own audit event.
        let rejected_one = propose(&paul, &create("eyes", "other", remote_spec())).await;
        let (status, rejected) = decide(&olga, &rejected_one, "reject", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{rejected}");
        assert_eq!(rejected["status"], "rejected");
        let (status, _) = olga
            .call("GET", "/api/v1/servers/eyes/other/revisions", None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let exists: Option<String> = sqlx::query_scalar(
            "SELECT id FROM servers WHERE namespace = 'eyes' AND name = 'other'",
        )
        .fetch_optional(db.db.pool())
        .await
        .expect("query");
        assert!(exists.is_none(), "a rejected proposal changes nothing");
    }
}

fn audit_actions_sorted(actions: &[&str]) -> Vec<String> {
    let mut actions: Vec<String> = actions.iter().map(|s| s.to_string()).collect();
    actions.sort();
    actions
}

/// Local mode has one person, the local admin: they approve their own proposal, but only with
/// a comment, and the decision is a self-approval on the proposal and in the audit log. (With
/// sign-in on the same approval is refused: see the four-eyes test above.)
#[tokio::test]
async fn in_local_mode_the_single_admin_self_approves_with_a_required_comment_recorded_as_such() {
    for db in support::all_backends().await {
        let admin = Client::at(&support::serve(&db.db).await);
        let proposal = propose(&admin, &create("solo", "fetch", remote_spec())).await;
        assert_eq!(proposal["authorName"], "local admin");

        let (status, missing) =
            decide(&admin, &proposal, "approve", json!({ "comment": " " })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{missing}");
        assert_eq!(missing["field"], "comment");

        let (status, applied) = decide(&admin, &proposal, "approve", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{applied}");
        assert_eq!(applied["status"], "applied", "{applied}");
        assert_eq!(applied["decision"]["selfApproval"], true, "{applied}");
        assert_eq!(applied["decision"]["byName"], "local admin");

        let id = proposal["id"].as_str().expect("id");
        let (_, shown) = admin
            .call("GET", &format!("/api/v1/proposals/{id}"), None)
            .await;
        assert_eq!(
            shown["proposal"]["decision"]["selfApproval"], true,
            "{shown}"
        );
        let mut actions = audit_actions(&db.db, id).await;
        actions.sort();
        assert_eq!(
            actions,
            audit_actions_sorted(&[
                "proposal.proposed",
                "proposal.self_approved",
                "proposal.applied"
            ]),
        );
        let comment: Option<String> = sqlx::query_scalar(
            "SELECT comment FROM audit_events WHERE target = $1 AND action = 'proposal.self_approved'",
        )
        .bind(format!("proposal/{id}"))
        .fetch_one(db.db.pool())
        .await
        .expect("the self-approval's audit row");
        assert_eq!(comment.as_deref(), Some("approve: looks right to me"));

        // Rejecting one's own proposal is no self-approval.
        let withdrawn = propose(&admin, &create("solo", "other", remote_spec())).await;
        let (status, rejected) = decide(&admin, &withdrawn, "reject", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{rejected}");
        assert_eq!(rejected["decision"]["selfApproval"], false, "{rejected}");
        let id = withdrawn["id"].as_str().expect("id");
        assert!(audit_actions(&db.db, id)
            .await
            .contains(&"proposal.rejected".to_owned()));
    }
}

#[tokio::test]
async fn two_reviewers_deciding_at_once_exactly_one_wins_and_the_other_learns_who() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let paul = Client::signed_in(&app, "paul").await;
        let olga = Client::signed_in(&app, "olga").await;
        let adam = Client::signed_in(&app, "adam").await;
        for round in 0..3 {
            let proposal =
                propose(&paul, &create("race", &format!("r{round}"), remote_spec())).await;
            let (a, b) = tokio::join!(
                decide(&olga, &proposal, "reject", json!({})),
                decide(&adam, &proposal, "approve", json!({})),
            );
            let outcomes = [
                (a, "Olga Owner", "Adam Admin"),
                (b, "Adam Admin", "Olga Owner"),
            ];
            let winners: Vec<_> = outcomes
                .iter()
                .filter(|((status, _), _, _)| *status == StatusCode::OK)
                .collect();
            assert_eq!(winners.len(), 1, "exactly one decision wins: {outcomes:?}");
            let ((_, _), winner, _) = winners[0];
            let loser = outcomes
                .iter()
                .find(|((status, _), _, _)| *status != StatusCode::OK)
                .expect("a loser");
            let ((status, body), _, _) = loser;
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert!(
                body["error"].as_str().is_some_and(|e| e.contains(winner)),
                "the loser learns that {winner} decided: {body}"
            );
            let id = proposal["id"].as_str().expect("id");
            let decisions = audit_actions(&db.db, id)
                .await
                .into_iter()
                .filter(|a| a == "proposal.approved" || a == "proposal.rejected")
                .count();
            assert_eq!(decisions, 1, "one decision is recorded");
        }
        // A decision on a version that is no longer current is refused too.
        let proposal = propose(&paul, &create("race", "stale", remote_spec())).await;
        let (status, _) = decide(&olga, &proposal, "reject", json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, late) = decide(&adam, &proposal, "approve", json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(
            late["error"]
                .as_str()
                .is_some_and(|e| e.contains("Olga Owner")),
            "{late}"
        );
        assert_eq!(late["proposal"]["status"], "rejected");
    }
}

#[tokio::test]
async fn a_proposal_whose_base_revision_moved_is_superseded_when_decided() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let adam = Client::signed_in(&app, "adam").await;
        register(&adam, "moved", "osv").await;
        let paul = Client::signed_in(&app, "paul").await;
        let proposal = propose(&paul, &update("moved", "osv")).await;
        assert_eq!(proposal["baseRevision"], 1);
        // Someone changes the server before the review.
        register(&adam, "moved", "osv").await;

        let olga = Client::signed_in(&app, "olga").await;
        let (status, superseded) = decide(&olga, &proposal, "approve", json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{superseded}");
        assert_eq!(superseded["proposal"]["status"], "superseded");
        let message = superseded["error"].as_str().expect("a message");
        assert!(
            message.contains("superseded")
                && message.contains("revision 1")
                && message.contains("revision 2"),
            "{message}"
        );
        let id = proposal["id"].as_str().expect("id");
        assert!(audit_actions(&db.db, id)
            .await
            .contains(&"proposal.superseded".to_owned()));
        let (status, again) = decide(&olga, &superseded["proposal"], "reject", json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{again}");
        assert!(
            again["error"]
                .as_str()
                .is_some_and(|e| e.contains("superseded")),
            "{again}"
        );
        let description: String = sqlx::query_scalar(
            "SELECT description FROM servers WHERE namespace = 'moved' AND name = 'osv'",
        )
        .fetch_one(db.db.pool())
        .await
        .expect("query");
        assert_eq!(
            description, "Registered directly",
            "the superseded change was not applied"
        );

        // A fresh proposal against the current revision goes through.
        let fresh = propose(&paul, &update("moved", "osv")).await;
        assert_eq!(fresh["baseRevision"], 2);
        let (status, applied) = decide(&olga, &fresh, "approve", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{applied}");
        assert_eq!(applied["status"], "applied");
    }
}

#[tokio::test]
async fn error_level_findings_block_owners_and_need_an_admin_override_reason() {
    use apiary_server::registry::model::ToolDef;
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let adam = Client::signed_in(&app, "adam").await;
        register(&adam, "policy", "users").await;
        // The server's live tools ask for a password: an error-level finding.
        let tools = vec![ToolDef::new(
            "add_user",
            "Adds a user",
            json!({ "type": "object", "properties": { "name": { "type": "string" }, "password": { "type": "string" } },
                    "additionalProperties": false }),
        )];
        let findings = support::seed::tools_with_findings(&db.db, "policy", "users", tools).await;
        assert!(findings.iter().any(|f| f.rule == "forbidden-property"));

        let paul = Client::signed_in(&app, "paul").await;
        let proposal = propose(&paul, &update("policy", "users")).await;
        let (status, shown) = paul
            .call(
                "GET",
                &format!("/api/v1/proposals/{}", proposal["id"].as_str().expect("id")),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            shown["findings"].as_array().is_some_and(|f| !f.is_empty()),
            "{shown}"
        );

        let olga = Client::signed_in(&app, "olga").await;
        let (status, blocked) = decide(
            &olga,
            &proposal,
            "approve",
            json!({ "overrideReason": "I know" }),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{blocked}");
        assert!(
            blocked["error"]
                .as_str()
                .is_some_and(|e| e.contains("password") && e.contains("admin")),
            "{blocked}"
        );
        let (status, no_reason) = decide(&adam, &proposal, "approve", json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{no_reason}");
        assert_eq!(no_reason["field"], "overrideReason");
        let (status, blank) = decide(
            &adam,
            &proposal,
            "approve",
            json!({ "overrideReason": " " }),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{blank}");

        // An owner may still reject; here the admin overrides instead.
        let (status, applied) = decide(
            &adam,
            &proposal,
            "approve",
            json!({ "overrideReason": "The password is the new account's initial one; tracked in SEC-12" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{applied}");
        assert_eq!(applied["status"], "applied", "{applied}");
        assert_eq!(
            applied["decision"]["overrideReason"],
            "The password is the new account's initial one; tracked in SEC-12"
        );
    }
}

#[tokio::test]
async fn an_approved_proposal_runs_on_the_local_runtime_and_appears_in_the_registry() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let tools = dir.path().join("tools.json");
        std::fs::write(
            &tools,
            json!([{ "name": "lookup", "description": "Looks a word up",
                     "inputSchema": { "type": "object", "properties": { "word": { "type": "string" } },
                                      "additionalProperties": false } }])
            .to_string(),
        )
        .expect("write the tools");
        let spec = json!({
            "command": support::mcp_servers::TESTMCP,
            "args": ["--tools", tools.display().to_string()],
            "transport": "stdio",
        });
        let paul = Client::signed_in(&app, "paul").await;
        let proposal = propose(&paul, &create("local", "words", spec)).await;
        let (_, listed) = paul.call("GET", "/v0.1/servers", None).await;
        assert!(
            !listed.to_string().contains("words"),
            "not listed before approval: {listed}"
        );

        let olga = Client::signed_in(&app, "olga").await;
        let (status, applied) = decide(&olga, &proposal, "approve", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{applied}");
        assert_eq!(applied["status"], "applied", "{applied}");

        let (status, runtime) = olga
            .call("GET", "/api/v1/servers/local/words/runtime", None)
            .await;
        assert_eq!(status, StatusCode::OK, "{runtime}");
        assert!(runtime.to_string().contains("apiary-testmcp"), "{runtime}");

        // The server is published at once, and its tools arrive with the background fetch.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, listed) = carol(&app)
                .await
                .call("GET", "/v0.1/servers?search=words", None)
                .await;
            assert_eq!(status, StatusCode::OK);
            let text = listed.to_string();
            if text.contains("words") && text.contains("lookup") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the applied server and its tool appear in /v0.1/servers: {listed}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        let (status, manifest) =
            manifest_of(&olga, "/api/v1/servers/local/words/revisions/1/manifest").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            manifest.contains("kind: MCPServer")
                && manifest.contains("apiary.dev/owner-team: search"),
            "{manifest}"
        );
    }
}

async fn carol(app: &SignedInApp) -> Client {
    Client::signed_in(app, "carol").await
}

async fn manifest_of(client: &Client, path: &str) -> (StatusCode, String) {
    let response = client
        .http
        .get(format!("{}{path}", client.base))
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.text().await.expect("text"))
}

#[tokio::test]
async fn an_approval_the_runtime_refuses_fails_with_its_error_and_changes_nothing() {
    use apiary_server::runtime::{LocalRuntime, LocalRuntimeConfig, Runtime};
    use std::sync::Arc;
    for db in support::all_backends().await {
        // A runtime that has shut down refuses every server.
        let runtime: Arc<dyn Runtime> = Arc::new(LocalRuntime::new(LocalRuntimeConfig::default()));
        runtime.shutdown().await;
        let Some(app) = signed_in::start_configured(
            &db,
            Default::default(),
            |_| {},
            |mut state| {
                state.runtime = apiary_server::runtime::AnyRuntime::Local(runtime);
                state
            },
        )
        .await
        else {
            return;
        };
        let paul = Client::signed_in(&app, "paul").await;
        let spec = json!({ "command": support::mcp_servers::TESTMCP, "transport": "stdio" });
        let proposal = propose(&paul, &create("broken", "words", spec)).await;
        let olga = Client::signed_in(&app, "olga").await;
        let (status, failed) = decide(&olga, &proposal, "approve", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{failed}");
        assert_eq!(failed["status"], "failed", "{failed}");
        assert!(
            failed["error"]
                .as_str()
                .is_some_and(|e| e.contains("the runtime is shut down")),
            "the runtime's error is kept: {failed}"
        );
        let servers: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM servers WHERE namespace = 'broken'")
                .fetch_one(db.db.pool())
                .await
                .expect("count");
        let revisions: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM server_revisions WHERE namespace = 'broken'")
                .fetch_one(db.db.pool())
                .await
                .expect("count");
        assert_eq!((servers, revisions), (0, 0), "nothing half-applied");
        let mut actions = audit_actions(&db.db, proposal["id"].as_str().expect("id")).await;
        actions.sort();
        assert_eq!(
            actions,
            audit_actions_sorted(&["proposal.proposed", "proposal.approved", "proposal.failed"])
        );
    }
}

#[tokio::test]
async fn in_kubernetes_mode_an_approval_server_side_applies_the_mcpserver_and_a_retire_deletes_it()
{
    use apiary_server::resources::crd::MCPServer;
    use kube::Api;
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    for db in support::all_backends().await {
        let namespace = support::kube::namespace(&cluster).await;
        let client = cluster.clone();
        let Some(app) = signed_in::start_configured(
            &db,
            Default::default(),
            |settings| settings.runtime = apiary_server::config::Runtime::Kubernetes,
            |state| state.with_kube(client),
        )
        .await
        else {
            return;
        };
        let paul = Client::signed_in(&app, "paul").await;
        let olga = Client::signed_in(&app, "olga").await;
        // Packages run only on the local runtime.
        let (status, refused) = paul
            .call(
                "POST",
                "/api/v1/proposals",
                Some(&create(
                    &namespace,
                    "npx",
                    json!({ "image": "npx://pkg", "transport": "stdio" }),
                )),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(refused["field"], "spec.image");

        let spec = json!({ "image": "ghcr.io/stackloklabs/osv-mcp/server:0.1.0",
                           "transport": "streamable-http", "targetPort": 8080 });
        let proposal = propose(&paul, &create(&namespace, "osv", spec)).await;
        let (status, applied) = decide(&olga, &proposal, "approve", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{applied}");
        assert_eq!(applied["status"], "applied", "{applied}");
        let servers: Api<MCPServer> = Api::namespaced(cluster.clone(), &namespace);
        let server = servers.get("osv").await.expect("the MCPServer exists");
        assert_eq!(
            server.spec.image,
            "ghcr.io/stackloklabs/osv-mcp/server:0.1.0"
        );
        assert_eq!(server.spec.target_port, Some(8080));
        // The published view goes with it: an MCPToolConfig the server refers to.
        let configs: Api<apiary_server::resources::crd::MCPToolConfig> =
            Api::namespaced(cluster.clone(), &namespace);
        let config = configs.get("osv").await.expect("the MCPToolConfig exists");
        assert!(config.spec.deny.is_empty() && config.spec.allow.is_empty());
        let server = servers.get("osv").await.expect("the MCPServer exists");
        assert_eq!(
            server
                .spec
                .tool_config_ref
                .as_ref()
                .map(|r| r.name.as_str()),
            Some("osv")
        );
        // An admin's curation is written to the cluster too.
        let adam = Client::signed_in(&app, "adam").await;
        let curated = adam
            .http
            .put(format!(
                "{}/api/v1/servers/{namespace}/osv/curation",
                app.url
            ))
            .json(&json!({ "deny": ["secret*"], "allow": ["get_*", "list_*"] }))
            .send()
            .await
            .expect("curate");
        assert_eq!(curated.status(), StatusCode::OK);
        let config = configs.get("osv").await.expect("the MCPToolConfig exists");
        assert_eq!(config.spec.deny, ["secret*"]);
        assert_eq!(config.spec.allow, ["get_*", "list_*"]);
        let server = servers.get("osv").await.expect("the MCPServer exists");
        assert_eq!(
            server.spec.image, "ghcr.io/stackloklabs/osv-mcp/server:0.1.0",
            "the curation's write left the server's own fields alone"
        );
        assert_eq!(
            server
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("apiary.dev/owner-team"))
                .map(String::as_str),
            Some("search")
        );
        let managers: Vec<_> = server
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .filter_map(|m| m.manager.clone())
            .collect();
        assert!(managers.contains(&"apiary".to_owned()), "{managers:?}");

        let retire = propose(
            &paul,
            &json!({ "kind": "retire", "namespace": namespace, "name": "osv", "message": "gone" }),
        )
        .await;
        let (status, retired) = decide(&olga, &retire, "approve", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{retired}");
        assert_eq!(retired["status"], "applied", "{retired}");
        assert!(
            servers.get_opt("osv").await.expect("get").is_none(),
            "the MCPServer is deleted"
        );
        assert!(
            configs.get_opt("osv").await.expect("get").is_none(),
            "and its MCPToolConfig"
        );
        let lifecycle: String = sqlx::query_scalar(
            "SELECT lifecycle FROM servers WHERE namespace = $1 AND name = 'osv'",
        )
        .bind(&namespace)
        .fetch_one(db.db.pool())
        .await
        .expect("read");
        assert_eq!(lifecycle, "retired");

        // A namespace the cluster does not have: the apiserver's error, and nothing stored.
        let absent = format!("{namespace}-absent");
        let spec = json!({ "image": "ghcr.io/stackloklabs/osv-mcp/server:0.1.0", "transport": "streamable-http" });
        let proposal = propose(&paul, &create(&absent, "osv", spec)).await;
        let (status, failed) = decide(&olga, &proposal, "approve", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{failed}");
        assert_eq!(failed["status"], "failed", "{failed}");
        assert!(
            failed["error"]
                .as_str()
                .is_some_and(|e| e.contains("Kubernetes API refused")),
            "{failed}"
        );
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM servers WHERE namespace = $1")
            .bind(&absent)
            .fetch_one(db.db.pool())
            .await
            .expect("count");
        assert_eq!(stored, 0, "nothing half-applied");
    }
}
