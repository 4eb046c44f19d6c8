//! Replicas on PostgreSQL: two real `apiary` processes on one database, each on its own port.
//! They migrate an empty database once when they start together, a sign-in on one is a
//! sign-in on the other (sign-out too), and of two approvals of one proposal sent to the two
//! at the same moment exactly one wins.

mod support;

use apiary_server::db::Db;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::oidc::{self, OidcProvider};
use support::ports::PassedSocket;
use support::process::ApiaryProcess;
use support::proposals::{decide, propose};
use support::signed_in::Client;

/// Where the replicas' public URLs point.
#[derive(Clone, Copy)]
enum PublicUrl {
    /// Each replica's own URL.
    Own,
    /// The first replica's URL for both, as for replicas behind one load balancer: the
    /// provider sends every sign-in back to it, and a test may hand the callback to either.
    Shared,
}

/// Starts the test provider, then two replicas with sign-in over `database_url` at the same
/// moment, and checks that both are ready; `None` when the provider is not configured.
async fn start_two(
    database_url: &str,
    public: PublicUrl,
) -> Option<(OidcProvider, ApiaryProcess, ApiaryProcess)> {
    let sockets = [PassedSocket::bind(), PassedSocket::bind()];
    let ports = sockets.each_ref().map(|socket| socket.port);
    let url = |port: u16| format!("http://127.0.0.1:{port}");
    let callbacks = ports.map(|port| format!("{}/auth/callback", url(port)));
    let homes = ports.map(|port| format!("{}/", url(port)));
    let provider = oidc::start(
        &callbacks.each_ref().map(String::as_str),
        &homes.each_ref().map(String::as_str),
        None,
    )
    .await?;
    let env = |public_url: String| {
        [
            ("APIARY_PUBLIC_URL", public_url),
            ("APIARY_DATABASE_URL", database_url.to_owned()),
            ("APIARY_OIDC_ISSUER", provider.issuer.clone()),
            ("APIARY_OIDC_CLIENT_ID", oidc::CLIENT_ID.to_owned()),
            ("APIARY_OIDC_CLIENT_SECRET", oidc::CLIENT_SECRET.to_owned()),
            (
                "APIARY_OIDC_SCOPES",
                "openid profile email groups".to_owned(),
            ),
        ]
    };
    let env_a = env(url(ports[0]));
    let env_b = env(url(match public {
        PublicUrl::Own => ports[1],
        PublicUrl::Shared => ports[0],
    }));
    let [socket_a, socket_b] = sockets;
    let (a, b) = tokio::join!(
        ApiaryProcess::start_on(socket_a, &env_a),
        ApiaryProcess::start_on(socket_b, &env_b),
    );
    for replica in [&a, &b] {
        let ready = reqwest::get(format!("{}/readyz", replica.url))
            .await
            .expect("GET /readyz");
        assert_eq!(ready.status(), StatusCode::OK, "{}", replica.log());
    }
    Some((provider, a, b))
}

fn create(name: &str) -> Value {
    json!({
        "kind": "create", "namespace": "replicas", "name": name,
        "description": "A server proposed on one replica", "ownerTeam": "search",
        // A remote server on a closed loopback port: the local runtime records it, nothing runs.
        "spec": { "url": "http://127.0.0.1:9/mcp", "transport": "streamable-http" },
    })
}

/// The versions in `migrations/`, ascending.
fn migration_versions() -> Vec<i64> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut versions: Vec<i64> = std::fs::read_dir(&folder)
        .expect("read migrations/")
        .map(|entry| entry.expect("a migration file").file_name())
        .filter_map(|name| {
            let name = name.to_string_lossy().into_owned();
            name.ends_with(".sql")
                .then(|| name.split('_').next()?.parse().ok())
                .flatten()
        })
        .collect();
    versions.sort_unstable();
    versions
}

async fn count(db: &Db, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn two_replicas_starting_at_once_on_an_empty_database_migrate_it_once() {
    let expected = migration_versions();
    assert!(expected.len() >= 7, "the migrations folder: {expected:?}");
    for round in 0..3 {
        let Some(url) = support::empty_postgres().await else {
            return;
        };
        // Both start at the same moment; start_two fails when either exits or is not ready.
        let Some((_provider, mut a, mut b)) = start_two(&url, PublicUrl::Own).await else {
            return;
        };
        for replica in [&mut a, &mut b] {
            assert!(replica.is_running(), "round {round}:\n{}", replica.log());
        }
        let db = Db::connect(&url).await.expect("open the database");
        let applied: Vec<(i64, bool)> =
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(db.pool())
                .await
                .expect("list the applied migrations");
        let versions: Vec<i64> = applied.iter().map(|(version, _)| *version).collect();
        assert_eq!(versions, expected, "round {round}: each migration once");
        assert!(
            applied.iter().all(|(_, success)| *success),
            "round {round}: {applied:?}"
        );
        // The tables are there and usable from both: the session store's too.
        for replica in [&a, &b] {
            let status = reqwest::get(format!("{}/api/v1/servers", replica.url))
                .await
                .expect("GET the servers")
                .status();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "sign-in is on");
            let login = Client::at(&replica.url).start_sign_in().await;
            assert!(login.contains("code_challenge="), "{login}");
        }
        db.close().await;
    }
}

#[tokio::test]
async fn a_sign_in_on_one_replica_is_valid_on_the_other_and_so_is_a_sign_out() {
    let Some(db) = support::postgres().await else {
        return;
    };
    let Some((_provider, a, b)) = start_two(&db.url, PublicUrl::Shared).await else {
        return;
    };
    // Behind a load balancer the sign-in may start on A and come back on B: B finds the
    // PKCE verifier, state and nonce that A kept in the session.
    let olga_on_a = Client::at(&a.url);
    let authorize = olga_on_a.start_sign_in().await;
    let callback = olga_on_a
        .provider
        .sign_in(&authorize, "olga", "olga-pw")
        .await;
    assert!(callback.starts_with(&a.url), "{callback}");
    let olga_on_b = olga_on_a.with_session_at(&b.url);
    let back = olga_on_b
        .finish_sign_in(&callback.replacen(&a.url, &b.url, 1))
        .await;
    assert_eq!(
        back.status(),
        StatusCode::SEE_OTHER,
        "B completes the sign-in A began: {}",
        back.text().await.unwrap_or_default()
    );
    let page = olga_on_b.page("/").await;
    assert_eq!(page.status(), StatusCode::OK, "the catalog renders on B");
    let html = page.text().await.expect("page");
    assert!(html.contains("Olga Owner"), "B names the person signed in");
    let (status, list) = olga_on_b.call("GET", "/api/v1/proposals", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let olga = olga_on_b.with_session_at(&a.url);
    assert!(olga.is_signed_in().await, "and so does A");

    // Without the cookie, B knows nobody.
    let stranger = Client::at(&b.url);
    assert_eq!(stranger.page("/").await.status(), StatusCode::SEE_OTHER);
    let (status, _) = stranger.call("GET", "/api/v1/proposals", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A sign-in on A, its cookie sent to B, and a state-changing request (same-origin
    // checked) on B.
    let paul = Client::signed_in_at(&a.url, "paul").await;
    let paul_on_b = paul.with_session_at(&b.url);
    let proposal = propose(&paul_on_b, &create("shared-session")).await;
    assert_eq!(proposal["authorName"], "Paul Proposer", "{proposal}");
    let id = proposal["id"].as_str().expect("id");
    let (status, seen) = olga
        .call("GET", &format!("/api/v1/proposals/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "A sees what B stored: {seen}");

    // Signing out on B ends the session on A too.
    let logout = paul_on_b
        .http
        .post(format!("{}/auth/logout", b.url))
        .header(reqwest::header::ORIGIN, &b.url)
        .send()
        .await
        .expect("POST /auth/logout");
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert!(!paul.is_signed_in().await, "paul is signed out on A");
    assert!(olga.is_signed_in().await, "olga is not");
}

#[tokio::test]
async fn two_owners_approving_one_proposal_on_two_replicas_at_once_exactly_one_wins() {
    let Some(db) = support::postgres().await else {
        return;
    };
    let Some((_provider, a, b)) = start_two(&db.url, PublicUrl::Own).await else {
        return;
    };
    let paul = Client::signed_in_at(&a.url, "paul").await;
    let olga_on_a = Client::signed_in_at(&a.url, "olga").await;
    let adam_on_b = Client::signed_in_at(&b.url, "adam").await;
    for round in 0..5 {
        let name = format!("race-{round}");
        let proposal = propose(&paul, &create(&name)).await;
        let (by_olga, by_adam) = tokio::join!(
            decide(&olga_on_a, &proposal, "approve", json!({})),
            decide(&adam_on_b, &proposal, "approve", json!({})),
        );
        let (won, lost, winner) = match (by_olga.0, by_adam.0) {
            (StatusCode::OK, _) => (by_olga, by_adam, "Olga Owner"),
            (_, StatusCode::OK) => (by_adam, by_olga, "Adam Admin"),
            _ => panic!("round {round}: no approval won: {by_olga:?} {by_adam:?}"),
        };
        assert_eq!(won.1["status"], "applied", "round {round}: {}", won.1);
        assert_eq!(lost.0, StatusCode::CONFLICT, "round {round}: {}", lost.1);
        let message = lost.1["error"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("{winner} already decided")),
            "round {round}: the loser is told who decided: {message}"
        );

        let id = proposal["id"].as_str().expect("id");
        let decisions = count(
            &db.db,
            "SELECT COUNT(*) FROM audit_events WHERE target = $1 AND action = 'proposal.approved'",
            &format!("proposal/{id}"),
        )
        .await;
        assert_eq!(decisions, 1, "round {round}: one approval is recorded");
        let revisions = count(
            &db.db,
            "SELECT COUNT(*) FROM server_revisions WHERE namespace = 'replicas' AND name = $1",
            &name,
        )
        .await;
        assert_eq!(revisions, 1, "round {round}: one new revision");
    }
}
