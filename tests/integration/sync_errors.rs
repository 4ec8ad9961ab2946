//! What open routes show of a failed sync: `last_error` (the store's copy, the
//! service's status, the `sync_runs` row) must not carry the MySQL user, its
//! password or the database host, and must keep the useful part. Real
//! failures: a closed port, an unresolvable name, a wrong password and a
//! missing grant on the real MariaDB.

use crate::support as common;
use crate::support::Inspect;

use common::TestDb;
use mysql_async::prelude::*;
use ojscog::metrics::Metrics;
use ojscog::store::Store;
use ojscog::sync::{self, SyncHandle, SyncStatus};
use std::path::Path;
use std::sync::Arc;

/// Runs one sync against `url` into a scratch store; returns the stored
/// `last_error`, the `sync_runs` error and what a restarted service shows.
async fn failed_sync_texts(url: &str, dir: &Path) -> Vec<String> {
    let cfg = common::config_for(url, dir);
    let mut store = Store::open(&cfg.store_path()).unwrap();
    let err = sync::run_once(&cfg.ojs, &mut store, &Metrics::new())
        .await
        .unwrap_err();
    let stored = store.state("last_error").unwrap().unwrap();
    let run = store
        .column_strings("SELECT error FROM sync_runs ORDER BY id DESC LIMIT 1")
        .unwrap();
    let status = SyncStatus::load(&store).unwrap().last_error.unwrap();
    eprintln!("operator sees: {err}\nopen routes see: {stored}");
    let mut texts = vec![stored, status];
    texts.extend(run);
    texts
}

fn assert_clean(texts: &[String], secrets: &[&str], useful: &str) {
    for t in texts {
        for s in secrets {
            assert!(!t.contains(s), "`{s}` shown in {t:?}");
        }
        assert!(
            t.to_lowercase().contains(&useful.to_lowercase()),
            "`{useful}` missing from {t:?}"
        );
    }
}

#[tokio::test]
async fn a_closed_port_shows_connection_refused_without_user_password_or_host() {
    let dir = tempfile::tempdir().unwrap();
    let texts = failed_sync_texts("mysql://editor7:s3cret-pw@127.0.0.1:9/ojs", dir.path()).await;
    assert_clean(&texts, &["editor7", "s3cret-pw", "127.0.0.1"], "refused");
}

#[tokio::test]
async fn an_unresolvable_host_is_not_named() {
    let dir = tempfile::tempdir().unwrap();
    let texts = failed_sync_texts(
        "mysql://editor7:s3cret-pw@ojs-db.invalid:3306/ojs",
        dir.path(),
    )
    .await;
    assert_clean(
        &texts,
        &["editor7", "s3cret-pw", "ojs-db.invalid"],
        "cannot reach",
    );
}

/// The server address MariaDB runs on (host:port) from the test server URL.
fn server_host() -> String {
    common::server_url()
        .rsplit('@')
        .next()
        .unwrap_or("127.0.0.1:3306")
        .to_string()
}

#[tokio::test]
async fn a_wrong_password_shows_access_denied_without_user_or_addresses() {
    let db = TestDb::ojs("3.4.0-4").await;
    let user = format!("u{}", std::process::id());
    {
        let mut c = db.conn().await;
        c.query_drop(format!("DROP USER IF EXISTS '{user}'@'%'"))
            .await
            .unwrap();
        c.query_drop(format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'right-pw'"))
            .await
            .unwrap();
        c.query_drop(format!("GRANT SELECT ON `{}`.* TO '{user}'@'%'", db.name))
            .await
            .unwrap();
    }
    let host = server_host();
    let hostname = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("mysql://{user}:wrong-pw@{host}/{}", db.name);
    let texts = failed_sync_texts(&url, dir.path()).await;
    assert_clean(
        &texts,
        &[&user, "wrong-pw", hostname, "127.0.0.1"],
        "access denied",
    );

    // A user without the grant: MySQL names user and client host in its message.
    let other = format!("v{}", std::process::id());
    {
        let mut c = db.conn().await;
        c.query_drop(format!("DROP USER IF EXISTS '{other}'@'%'"))
            .await
            .unwrap();
        c.query_drop(format!("CREATE USER '{other}'@'%' IDENTIFIED BY 'pw-2'"))
            .await
            .unwrap();
    }
    let url = format!("mysql://{other}:pw-2@{host}/{}", db.name);
    let texts = failed_sync_texts(&url, dir.path()).await;
    assert_clean(&texts, &[&other, "pw-2", hostname, "127.0.0.1"], "denied");
    let mut c = db.conn().await;
    c.query_drop(format!("DROP USER IF EXISTS '{user}'@'%', '{other}'@'%'"))
        .await
        .unwrap();
    drop(c);
    db.drop_db().await;
}

#[tokio::test]
async fn the_service_status_shows_the_cleaned_text() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config_for("mysql://editor7:s3cret-pw@127.0.0.1:9/ojs", dir.path());
    let store = Store::open(&cfg.store_path()).unwrap();
    let mut initial = SyncStatus::load(&store).unwrap();
    initial.configured = true;
    let handle = SyncHandle::new(initial);
    let shutdown = ojscog::system::Shutdown::new();
    let looping = tokio::spawn(
        sync::SyncLoop {
            cfg: cfg.ojs.clone(),
            store,
            metrics: Arc::new(Metrics::new()),
            handle: handle.clone(),
        }
        .run(shutdown.clone()),
    );
    let shown = loop {
        if let Some(e) = handle.status().last_error {
            break e;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    shutdown.trigger();
    let _ = looping.await;
    assert_clean(&[shown], &["editor7", "s3cret-pw", "127.0.0.1"], "refused");
}
