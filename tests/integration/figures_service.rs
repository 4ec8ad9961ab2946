//! Submission files from OJS to the figure checks: the sync mirrors each
//! submission's files (names, stages, and paths when OJS's `files` table is
//! there) from PKP's real datasets; the service checks a submission's files
//! from a files directory in the background (`POST /api/submissions/{id}/figures`),
//! caches the reports by file and model, refuses paths that leave the directory,
//! and takes files uploaded by hand (the API and the page's form).

#[cfg(feature = "vision")]
use crate::support::web::{self, start_with, ADMIN_TOKEN, READ_TOKEN};
#[cfg(feature = "vision")]
use crate::support::Inspect;
use crate::support::{config_for, TestDb};
use ojscog::metrics::Metrics;
use ojscog::store::Store;
use std::collections::BTreeMap;
use std::path::Path;
#[cfg(feature = "vision")]
use std::time::{Duration, Instant};

/// OJS's `files` table (as OJS 3.4's migration makes it; PKP's dataset extracts leave it out), one row per file
/// the dataset's `submission_files` name, at `journals/1/articles/{submission}/{file}.{ext}`, with a MIME type by
/// the file's extension. `overrides` sets (file_id → path).
async fn add_files_table(db: &TestDb, overrides: &[(i64, &str)]) {
    db.exec(
        "CREATE TABLE `files` (
           `file_id` bigint unsigned NOT NULL AUTO_INCREMENT,
           `path` varchar(255) NOT NULL,
           `mimetype` varchar(255) NOT NULL,
           PRIMARY KEY (`file_id`))",
    )
    .await;
    let rows = db
        .strings(
            "SELECT DISTINCT CONCAT(sf.file_id, '|', sf.submission_id, '|', IFNULL(fs.setting_value, ''))
             FROM submission_files sf
             LEFT JOIN submission_file_settings fs ON fs.submission_file_id = sf.submission_file_id
               AND fs.setting_name = 'name' AND fs.setting_value <> ''",
        )
        .await;
    let mut seen = std::collections::HashSet::new();
    for r in rows {
        let mut parts = r.splitn(3, '|');
        let file_id: i64 = parts.next().unwrap().parse().unwrap();
        let sub = parts.next().unwrap();
        let name = parts.next().unwrap_or_default();
        if !seen.insert(file_id) {
            continue;
        }
        let ext = name
            .rsplit('.')
            .next()
            .unwrap_or("bin")
            .to_ascii_lowercase();
        let mime = match ext.as_str() {
            "pdf" => "application/pdf",
            "odt" => "application/vnd.oasis.opendocument.text",
            "ods" => "application/vnd.oasis.opendocument.spreadsheet",
            "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            _ => "application/octet-stream",
        };
        let path = overrides
            .iter()
            .find(|(id, _)| *id == file_id)
            .map(|(_, p)| p.to_string())
            .unwrap_or_else(|| format!("journals/1/articles/{sub}/{file_id}.{ext}"));
        db.exec(&format!(
            "INSERT INTO files(file_id, path, mimetype) VALUES ({file_id}, '{}', '{mime}')",
            path.replace('\'', "''")
        ))
        .await;
    }
}

/// Every submission's files as OJS has them: id → (file_id, stage, name, path).
async fn source_files(db: &TestDb, with_paths: bool) -> BTreeMap<i64, Vec<String>> {
    let (col, join) = if with_paths {
        ("f.path", "LEFT JOIN files f ON f.file_id = sf.file_id")
    } else {
        ("''", "")
    };
    let rows = db
        .strings(&format!(
            "SELECT CONCAT(sf.submission_id, '\t', sf.file_id, '|', sf.file_stage, '|',
                    IFNULL((SELECT fs.setting_value FROM submission_file_settings fs
                      WHERE fs.submission_file_id = sf.submission_file_id AND fs.setting_name = 'name'
                        AND fs.setting_value <> '' ORDER BY fs.locale LIMIT 1), ''), '|', IFNULL({col}, ''))
             FROM submission_files sf {join} ORDER BY sf.submission_id, sf.submission_file_id"
        ))
        .await;
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for r in rows {
        let (sid, rest) = r.split_once('\t').unwrap();
        out.entry(sid.parse().unwrap())
            .or_default()
            .push(rest.to_string());
    }
    out
}

async fn sync(db: &TestDb, dir: &Path) {
    let cfg = config_for(&db.url(), dir);
    let mut store = Store::open(&cfg.store_path()).unwrap();
    ojscog::sync::run_once(&cfg.ojs, &mut store, &Metrics::new())
        .await
        .expect("sync");
}

fn mirrored_files(dir: &Path) -> BTreeMap<i64, Vec<String>> {
    let store = Store::open_read_only(&dir.join("ojscog.sqlite3")).unwrap();
    let mut out = BTreeMap::new();
    for sid in 1..=200 {
        let files = store.submission_files(sid).unwrap();
        if !files.is_empty() {
            out.insert(
                sid,
                files
                    .iter()
                    .map(|f| {
                        format!(
                            "{}|{}|{}|{}",
                            f.file_id,
                            f.stage,
                            f.name,
                            f.path.clone().unwrap_or_default()
                        )
                    })
                    .collect(),
            );
        }
    }
    out
}

#[tokio::test]
async fn the_sync_mirrors_every_submission_s_files_from_both_datasets() {
    for version in ["3.3.0-16", "3.4.0-4"] {
        // PKP's extracts have no `files` table: names and stages, no paths.
        let db = TestDb::ojs(version).await;
        let dir = tempfile::tempdir().unwrap();
        sync(&db, dir.path()).await;
        let want = source_files(&db, false).await;
        assert!(
            want.len() >= 15,
            "{version}: {} submissions with files",
            want.len()
        );
        assert_eq!(mirrored_files(dir.path()), want, "{version}");

        // With OJS's `files` table, where each file lies.
        add_files_table(&db, &[]).await;
        let dir = tempfile::tempdir().unwrap();
        sync(&db, dir.path()).await;
        let want = source_files(&db, true).await;
        assert!(want[&1][0].ends_with("/1.pdf"), "{:?}", want[&1]);
        assert_eq!(mirrored_files(dir.path()), want, "{version} with paths");

        // A revision uploaded in OJS is picked up by the next sync (the fingerprint covers the files).
        db.exec(
            "INSERT INTO files(file_id, path, mimetype) VALUES (900, 'journals/1/articles/2/900.pdf', 'application/pdf');
             INSERT INTO submission_files(submission_file_id, submission_id, file_id, file_stage, created_at, updated_at)
               VALUES (900, 2, 900, 15, NOW(), NOW())",
        )
        .await;
        sync(&db, dir.path()).await;
        let got = mirrored_files(dir.path());
        assert!(
            got[&2]
                .iter()
                .any(|f| f == "900|15||journals/1/articles/2/900.pdf"),
            "{version}: {:?}",
            got[&2]
        );
        db.drop_db().await;
    }
}

#[cfg(feature = "vision")]
fn pages_dir() -> std::path::PathBuf {
    std::env::var_os("OJSCOG_VISION_PAGES")
        .map(std::path::PathBuf::from)
        .expect("OJSCOG_VISION_PAGES is not set: run scripts/vision/pages.sh (scripts/test does)")
}

#[cfg(feature = "vision")]
fn wait_for_job(t: &web::TestService, id: i64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let v = t.get(&format!("/api/submissions/{id}/figures")).json();
        if v["job"]["state"] != "running" {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "the figure check did not end: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `v` with every number rounded to 1/100.
#[cfg(feature = "vision")]
fn rounded(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) => n
            .as_f64()
            .map(|x| serde_json::json!((x * 100.0).round() / 100.0))
            .unwrap_or_else(|| v.clone()),
        Value::Array(a) => Value::Array(a.iter().map(rounded).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), rounded(x))).collect()),
        other => other.clone(),
    }
}

#[cfg(feature = "vision")]
fn runs(t: &web::TestService, outcome: &str) -> i64 {
    t.store()
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM agent_execution_log WHERE agent = 'figures' AND outcome = '{outcome}'"
        ))
        .unwrap()
}

#[cfg(feature = "vision")]
#[tokio::test(flavor = "multi_thread")]
async fn a_submission_s_files_are_checked_in_the_background_cached_and_kept_inside_the_files_directory(
) {
    let pages = pages_dir();
    let files = tempfile::tempdir().unwrap();
    let root = files.path().join("ojs-files");
    std::fs::create_dir_all(root.join("journals/1/articles/1")).unwrap();
    std::fs::create_dir_all(root.join("journals/1/articles/3")).unwrap();
    let good = std::fs::read(pages.join("001.pdf")).unwrap();
    std::fs::write(root.join("journals/1/articles/1/good.pdf"), &good).unwrap();
    std::fs::write(files.path().join("outside.pdf"), &good).unwrap();
    let pdf3 = std::fs::read(pages.join("003.pdf")).unwrap();
    std::fs::write(
        root.join("journals/1/articles/3/cut.pdf"),
        &pdf3[..pdf3.len() / 3],
    )
    .unwrap();

    let db = TestDb::ojs("3.4.0-4").await;
    // Submission 1: file 1 (its manuscript) is a drawn page; file 4 claims a path out of the directory.
    // Submission 3: file 9 is a PDF cut short.
    add_files_table(
        &db,
        &[
            (1, "journals/1/articles/1/good.pdf"),
            (4, "../outside.pdf"),
            (9, "journals/1/articles/3/cut.pdf"),
        ],
    )
    .await;
    let (url, root2) = (db.url(), root.clone());
    let t = tokio::task::spawn_blocking(move || {
        start_with(
            |c| {
                c.ojs.url = url;
                c.figures.files_dir = root2;
            },
            false,
        )
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while t.service().ctx.sync.status().last_success_at.is_none() {
        assert!(Instant::now() < deadline, "the first sync did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }

    let t = tokio::task::spawn_blocking(move || {
        // Not checked yet; the files OJS has are listed; reading needs sign-in, checking needs the admin.
        let v = t.get("/api/submissions/1/figures").json();
        assert_eq!(v["checks"].as_array().unwrap().len(), 0, "{v}");
        let picked: Vec<i64> = v["ojs_files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["checked_by_default"] == true)
            .map(|f| f["submission_file_id"].as_i64().unwrap())
            .collect();
        assert_eq!(picked, vec![8, 11], "the two PDFs, newest rows: {v}");
        assert_eq!(t.get_anon("/api/submissions/1/figures").status, 401);
        assert_eq!(
            t.post("/api/submissions/1/figures", Some(READ_TOKEN), b"").status,
            403
        );
        assert_eq!(t.post("/api/submissions/999/figures", Some(ADMIN_TOKEN), b"").status, 404);

        let r = t.post("/api/submissions/1/figures", Some(ADMIN_TOKEN), b"");
        assert_eq!(r.status, 202, "{}", r.body);
        let v = wait_for_job(&t, 1);
        assert_eq!(v["job"]["state"], "done", "{v}");
        let checks = v["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 2, "{v}");
        let by_name = |n: &str| {
            checks
                .iter()
                .find(|c| c["name"].as_str().unwrap().starts_with(n))
                .unwrap_or_else(|| panic!("no check of {n}: {v}"))
        };
        let manuscript = by_name("Signalling Theory");
        assert!(manuscript["error"].is_null(), "{manuscript}");
        assert_eq!(
            manuscript["sha256"],
            ojscog::models::sha256_hex(&good),
            "the report is keyed by the file's bytes"
        );
        // The same report as the checks give on the file by hand (ojscog check-files).
        let eye = ojscog::inference::vision::Eye::load(
            &ojscog::inference::vision::VisionSettings::new(t.dir.path()),
        )
        .unwrap();
        let lib = ojscog::figures::render::pdfium_library(t.dir.path()).unwrap();
        let direct = ojscog::figures::check_file(&eye, "x", &good, Some(&lib)).unwrap();
        assert_eq!(manuscript["summary"], direct.summary.as_str());
        assert_eq!(
            rounded(&manuscript["report"]["pages"]),
            rounded(&serde_json::to_value(&direct.pages).unwrap()),
            "the kept report is the checks' (coordinates kept to 1/100 px: the JSON text rounds f32s)"
        );
        let outside = by_name("signalling-theory-dataset");
        assert!(
            outside["error"].as_str().unwrap().contains("not a plain path"),
            "{outside}"
        );
        assert!(outside["sha256"].is_null(), "the file out of the directory was never read");
        assert_eq!((runs(&t, "ok"), runs(&t, "error")), (1, 1));

        // Again: the manuscript's report comes from the cache (no run); the refused path is refused again.
        assert_eq!(t.post("/api/submissions/1/figures", Some(ADMIN_TOKEN), b"").status, 202);
        let v2 = wait_for_job(&t, 1);
        assert_eq!(v2["job"]["state"], "done", "{v2}");
        assert_eq!((runs(&t, "ok"), runs(&t, "error")), (1, 2));

        // A cut PDF: its error, not a crash; the job says every file failed.
        assert_eq!(t.post("/api/submissions/3/figures", Some(ADMIN_TOKEN), b"").status, 202);
        let v3 = wait_for_job(&t, 3);
        assert_eq!(v3["job"]["state"], "failed", "{v3}");
        assert!(v3["checks"][0]["error"].as_str().unwrap().contains("PDF"), "{v3}");

        // By hand: the same bytes uploaded through the API are the cached report; a PNG page through the page's form.
        let r = t.post(
            "/api/submissions/1/figures?name=again.pdf",
            Some(ADMIN_TOKEN),
            &good,
        );
        assert_eq!(r.status, 202, "{}", r.body);
        wait_for_job(&t, 1);
        assert_eq!(runs(&t, "ok"), 1, "an upload of checked bytes is a cache hit");
        let png = std::fs::read(pages.join("003.png")).unwrap();
        let mut body = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"C:\\\\fig.png\"\r\nContent-Type: image/png\r\n\r\n".to_vec();
        body.extend_from_slice(&png);
        body.extend_from_slice(b"\r\n--b0undary--\r\n");
        let r = web::call(
            web::agent()
                .post(&t.url("/submissions/1/figures"))
                .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
                .set("Content-Type", "multipart/form-data; boundary=b0undary"),
            Some(&body),
        );
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.header("location"), Some("/submissions/1?follow=1#figures"));
        let v = wait_for_job(&t, 1);
        let upload = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["source"] == "upload" && c["name"] == "fig.png")
            .unwrap_or_else(|| panic!("{v}"));
        assert!(upload["summary"].as_str().unwrap().starts_with("1 page"), "{upload}");
        assert_eq!(runs(&t, "ok"), 2);

        // An upload from anyone but the admin is refused before its body is kept (it is read and dropped, so that
        // the client sees the answer and not a reset).
        let pdf = vec![b'%'; 1 << 20];
        assert_eq!(t.post("/api/submissions/1/figures?name=x.pdf", None, &pdf).status, 401);
        assert_eq!(t.post("/api/submissions/1/figures?name=x.pdf", Some(READ_TOKEN), &pdf).status, 403);

        // The page shows the card; the metrics count the runs and pages.
        let page = web::call(
            web::agent()
                .get(&t.url("/submissions/1"))
                .set("Authorization", &format!("Bearer {ADMIN_TOKEN}")),
            None,
        );
        assert!(page.body.contains(r#"id="figures-files""#), "{}", page.body);
        assert!(page.body.contains(direct.summary.as_str()), "{}", page.body);
        assert!(page.body.contains(r#"id="check-figures""#));
        let metrics = t.get_anon("/metrics").body;
        assert!(
            metrics.contains(r#"ojscog_agent_runs_total{agent="figures",outcome="ok"} 2"#),
            "{metrics}"
        );
        assert!(metrics.contains("ojscog_figure_pages_checked_total 2"), "{metrics}");
        t
    })
    .await
    .unwrap();
    drop(t);
    db.drop_db().await;
}
