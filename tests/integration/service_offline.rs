//! The service keeps serving its store while OJS is unreachable, backs off,
//! reports staleness, and recovers when OJS returns.

use crate::support as common;

use common::faulty_proxy::FaultyProxy;
use common::{config_for, Inspect, TestDb};
use ojscog::metrics::Metrics;
use ojscog::service::Service;
use ojscog::store::Store;
use std::time::{Duration, Instant};

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_serving_while_ojs_is_down_and_recovers() {
    let db = TestDb::ojs("3.4.0-4").await;
    let dir = tempfile::tempdir().unwrap();
    // A first sync fills the store.
    let mut cfg = config_for(&db.url(), dir.path());
    {
        let mut store = Store::open(&cfg.store_path()).unwrap();
        ojscog::sync::run_once(&cfg.ojs, &mut store, &Metrics::new())
            .await
            .unwrap();
    }
    // Then OJS "goes away": the service is pointed at a port with nothing behind it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    cfg.ojs.url = format!(
        "mysql://root@127.0.0.1:{port}/{}?prefer_socket=false",
        db.name
    );
    cfg.ojs.min_backoff_secs = 1;
    cfg.ojs.max_backoff_secs = 2;
    cfg.ojs.timeout_secs = 2;
    cfg.ojs.stale_after_secs = 1;
    cfg.web.admin_token = "admin-token-0123456789".into();
    cfg.web.read_token = "read-token-0123456789".into();
    let auth = "Bearer read-token-0123456789";
    let listener = ojscog::web::bind(&cfg.web.listen).unwrap();
    let svc = Service::start(cfg, ojscog::sync::Source::Ojs, listener).unwrap();
    let base = format!("http://{}", svc.local_addr);

    wait_for("two failed attempts", Duration::from_secs(20), || {
        svc.ctx.sync.status().consecutive_failures >= 2
    });
    let st = svc.ctx.sync.status();
    assert!(
        st.last_error
            .as_deref()
            .unwrap_or("")
            .contains("cannot reach"),
        "{st:?}"
    );
    let next_in = st.next_attempt_at.unwrap() - st.last_attempt_at.unwrap();
    assert!(
        (1..=2).contains(&next_in),
        "backoff is capped at 2 s: {next_in}"
    );
    // Still serving the mirror, and saying it is stale.
    let subs: serde_json::Value = ureq::get(&format!("{base}/api/submissions"))
        .set("Authorization", auth)
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(subs["submissions"].as_array().unwrap().len(), 19);
    std::thread::sleep(Duration::from_millis(1100));
    let resp = ureq::get(&format!("{base}/health"))
        .set("Authorization", auth)
        .call()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let health: serde_json::Value = resp.into_json().unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    let metrics = ureq::get(&format!("{base}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        metrics.contains("ojscog_sync_runs_total{outcome=\"error\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ojscog_sync_staleness_seconds"),
        "{metrics}"
    );

    // OJS comes back on the same address.
    let host = common::server_url().rsplit('@').next().unwrap().to_string();
    let _proxy = FaultyProxy::start_on(port, &host, None, 0);
    wait_for("recovery", Duration::from_secs(20), || {
        svc.ctx.sync.status().consecutive_failures == 0
    });
    let st = svc.ctx.sync.status();
    assert!(
        st.last_error.is_none() && st.last_success_at.is_some(),
        "{st:?}"
    );
    let sync: serde_json::Value = ureq::get(&format!("{base}/api/sync"))
        .set("Authorization", auth)
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(sync["ojs_version"], "3.4.0-4", "{sync}");

    let t = Instant::now();
    svc.stop();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "graceful stop took {:?}",
        t.elapsed()
    );
    db.drop_db().await;
}

/// Regression: a stop in the middle of a sync used to drop the run's future
/// mid-await and leave its `sync_runs` row `running` for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_a_sync_records_the_run_as_interrupted() {
    let db = TestDb::ojs("3.4.0-4").await;
    let host = common::server_url().rsplit('@').next().unwrap().to_string();
    // A slow network: every chunk from the server waits 300 ms, so the run is
    // still going when the stop comes.
    let proxy = FaultyProxy::start_with_delay(&host, None, 300);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config_for(
        &format!(
            "mysql://root@127.0.0.1:{}/{}?prefer_socket=false",
            proxy.port, db.name
        ),
        dir.path(),
    );
    cfg.web.read_token = "read-token-0123456789".into();
    let listener = ojscog::web::bind(&cfg.web.listen).unwrap();
    let svc = Service::start(cfg, ojscog::sync::Source::Ojs, listener).unwrap();
    wait_for(
        "the first sync to be running",
        Duration::from_secs(20),
        || svc.ctx.sync.status().running,
    );
    let store_path = svc.ctx.store_path.clone();
    wait_for("its sync_runs row", Duration::from_secs(20), || {
        Store::open_read_only(&store_path)
            .ok()
            .and_then(|s| s.scalar_i64("SELECT COUNT(*) FROM sync_runs").ok())
            == Some(1)
    });
    let stopping = std::thread::spawn(move || svc.stop());
    wait_for("the service to stop", Duration::from_secs(30), || {
        stopping.is_finished()
    });
    let store = Store::open_read_only(&store_path).unwrap();
    assert_eq!(
        store
            .column_strings("SELECT outcome || ':' || (finished_at IS NOT NULL) FROM sync_runs")
            .unwrap(),
        vec!["interrupted:1".to_string()],
        "the run is closed as interrupted, not left running"
    );
    assert_eq!(
        store
            .scalar_i64("SELECT COUNT(*) FROM submissions")
            .unwrap(),
        0,
        "no half batch was applied"
    );
    db.drop_db().await;
}
