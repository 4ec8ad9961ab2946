//! OJS → store sync against real MariaDB loaded with PKP's OJS 3.3 and 3.4
//! test databases: what the store holds is checked against queries on the source.

use crate::support as common;
use crate::support::Inspect;

use common::faulty_proxy::FaultyProxy;
use common::{config_for, TestDb};
use ojscog::metrics::Metrics;
use ojscog::ojs::OjsError;
use ojscog::store::{Store, SubmissionFilter};
use ojscog::sync::{run_once, SyncError, SyncReport};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

async fn sync(url: &str, dir: &Path) -> Result<SyncReport, SyncError> {
    sync_batched(url, dir, 50).await
}

async fn sync_batched(url: &str, dir: &Path, batch: usize) -> Result<SyncReport, SyncError> {
    let mut cfg = config_for(url, dir);
    cfg.ojs.batch_size = batch;
    let mut store = Store::open(&cfg.store_path()).unwrap();
    run_once(&cfg.ojs, &mut store, &Metrics::new()).await
}

fn store(dir: &Path) -> Store {
    Store::open(&dir.join("ojscog.sqlite3")).unwrap()
}

/// Every mirrored submission as the API shows it, plus reviewers: a whole picture of the mirror.
fn snapshot(dir: &Path) -> BTreeMap<String, Value> {
    let s = store(dir);
    let mut out = BTreeMap::new();
    for sub in s.list_submissions(&SubmissionFilter::default()).unwrap() {
        let d = s.submission(sub.id).unwrap().unwrap();
        out.insert(
            format!("submission {:03}", sub.id),
            serde_json::to_value(d).unwrap(),
        );
    }
    out.insert(
        "reviewers".into(),
        serde_json::to_value(s.reviewers().unwrap()).unwrap(),
    );
    out
}

/// The title of each submission's current publication, as OJS has it (locale of the submission).
async fn source_titles(db: &TestDb) -> Vec<String> {
    db.strings(
        "SELECT CONCAT(s.submission_id, ':', ps.setting_value) FROM submissions s
         JOIN publication_settings ps ON ps.publication_id = s.current_publication_id
          AND ps.setting_name = 'title' AND ps.locale = s.locale
         ORDER BY s.submission_id",
    )
    .await
}

fn store_titles(dir: &Path) -> Vec<String> {
    store(dir)
        .column_strings("SELECT id || ':' || title FROM submissions ORDER BY id")
        .unwrap()
}

async fn check_mirror(version: &str) {
    let db = TestDb::ojs(version).await;
    let dir = tempfile::tempdir().unwrap();
    let report = sync(&db.url(), dir.path()).await.unwrap();
    assert_eq!(report.ojs_version, version);
    let s = store(dir.path());

    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM submissions").unwrap(),
        19
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM submissions").await, 19);
    assert_eq!(s.scalar_i64("SELECT COUNT(*) FROM reviewers").unwrap(), 4);
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM review_assignments")
            .unwrap(),
        27
    );
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM editorial_decisions")
            .unwrap(),
        db.count("SELECT COUNT(*) FROM edit_decisions").await
    );
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM authors").unwrap(),
        db.count("SELECT COUNT(*) FROM authors a JOIN submissions s ON s.current_publication_id = a.publication_id").await
    );
    assert_eq!(store_titles(dir.path()), source_titles(&db).await);

    // Status and stage of every submission.
    let src = db
        .strings("SELECT CONCAT(submission_id, ':', status, ':', stage_id) FROM submissions ORDER BY submission_id")
        .await;
    let mine = s
        .column_strings(
            "SELECT id || ':' || status || ':' || stage_id FROM submissions ORDER BY id",
        )
        .unwrap();
    assert_eq!(mine, src);

    // Author names in order, per submission.
    let src = db
        .strings("SELECT CONCAT(s.submission_id, ':', GROUP_CONCAT(CONCAT(g.setting_value, ' ', f.setting_value) ORDER BY a.seq, a.author_id SEPARATOR ', '))
             FROM submissions s JOIN authors a ON a.publication_id = s.current_publication_id
             JOIN author_settings g ON g.author_id = a.author_id AND g.setting_name = 'givenName' AND g.locale = s.locale
             JOIN author_settings f ON f.author_id = a.author_id AND f.setting_name = 'familyName' AND f.locale = s.locale
             GROUP BY s.submission_id ORDER BY s.submission_id")
        .await;
    let mine: Vec<String> = s
        .list_submissions(&SubmissionFilter::default())
        .unwrap()
        .into_iter()
        .filter(|x| !x.authors.is_empty())
        .map(|x| format!("{}:{}", x.id, x.authors.join(", ")))
        .collect();
    assert_eq!(mine, src);

    // Reviewers: the users holding role 4096, with names.
    let src = db
        .strings(
            "SELECT CONCAT(u.user_id, ':', g.setting_value, ' ', f.setting_value) FROM users u
             JOIN user_settings g ON g.user_id = u.user_id AND g.setting_name = 'givenName' AND g.setting_value <> ''
             JOIN user_settings f ON f.user_id = u.user_id AND f.setting_name = 'familyName' AND f.locale = g.locale
             WHERE u.user_id IN (SELECT uug.user_id FROM user_user_groups uug
                 JOIN user_groups ug ON ug.user_group_id = uug.user_group_id WHERE ug.role_id = 4096)
             GROUP BY u.user_id ORDER BY u.user_id",
        )
        .await;
    let mine = s
        .column_strings(
            "SELECT id || ':' || given_name || ' ' || family_name FROM reviewers ORDER BY id",
        )
        .unwrap();
    assert_eq!(mine, src);

    // Keywords of the current publications.
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM submission_terms WHERE kind = 'keyword'").unwrap(),
        db.count(
            "SELECT COUNT(*) FROM submissions s JOIN controlled_vocabs cv
               ON cv.assoc_type = 1048588 AND cv.assoc_id = s.current_publication_id AND cv.symbolic = 'submissionKeyword'
             JOIN controlled_vocab_entries e ON e.controlled_vocab_id = cv.controlled_vocab_id
             JOIN controlled_vocab_entry_settings es ON es.controlled_vocab_entry_id = e.controlled_vocab_entry_id"
        )
        .await
    );
    assert!(
        s.scalar_i64("SELECT COUNT(*) FROM submission_terms")
            .unwrap()
            > 0
    );

    // The pending view: submitted, still queued.
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM v_pending_submissions").unwrap(),
        db.count("SELECT COUNT(*) FROM submissions WHERE status = 1 AND CAST(submission_progress AS CHAR) IN ('', '0')").await
    );
    assert_eq!(
        s.scalar_i64("SELECT COUNT(DISTINCT submission_id) FROM v_pending_submissions")
            .unwrap(),
        s.scalar_i64("SELECT COUNT(*) FROM v_pending_submissions")
            .unwrap(),
        "one row per submission"
    );
    // Reviewer performance adds up to the assignments.
    assert_eq!(
        s.scalar_i64("SELECT SUM(assigned) FROM v_reviewer_performance").unwrap(),
        db.count("SELECT COUNT(*) FROM review_assignments WHERE reviewer_id IN (SELECT uug.user_id FROM user_user_groups uug JOIN user_groups ug ON ug.user_group_id = uug.user_group_id WHERE ug.role_id = 4096)").await
    );
    assert_eq!(
        s.scalar_i64("SELECT SUM(declined) FROM v_reviewer_performance")
            .unwrap(),
        db.count("SELECT COUNT(*) FROM review_assignments WHERE declined = 1")
            .await
    );
    // Journal and sections.
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM journals").unwrap(),
        db.count("SELECT COUNT(*) FROM journals").await
    );
    let jname = s.column_strings("SELECT name FROM journals").unwrap();
    assert!(!jname[0].is_empty());
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM sections WHERE title <> ''")
            .unwrap(),
        db.count("SELECT COUNT(*) FROM sections").await
    );
    db.drop_db().await;
}

#[tokio::test]
async fn mirrors_ojs_3_4_dataset() {
    check_mirror("3.4.0-4").await;
}

#[tokio::test]
async fn mirrors_ojs_3_3_dataset() {
    check_mirror("3.3.0-16").await;
}

#[tokio::test]
async fn second_sync_in_a_row_changes_nothing() {
    let db = TestDb::ojs("3.4.0-4").await;
    let dir = tempfile::tempdir().unwrap();
    let first = sync(&db.url(), dir.path()).await.unwrap();
    assert_eq!(first.submissions_fetched, 19);
    let before = snapshot(dir.path());
    let second = sync(&db.url(), dir.path()).await.unwrap();
    assert_eq!(second.submissions_fetched, 0, "{second:?}");
    assert_eq!(second.rows_changed, 0, "{second:?}");
    assert_eq!(second.rows_deleted, 0, "{second:?}");
    assert_eq!(snapshot(dir.path()), before);
    db.drop_db().await;
}

#[tokio::test]
async fn picks_up_inserts_updates_and_deletes_between_syncs() {
    let db = TestDb::ojs("3.4.0-4").await;
    let dir = tempfile::tempdir().unwrap();
    sync(&db.url(), dir.path()).await.unwrap();
    let reviewer = db
        .count("SELECT MIN(uug.user_id) FROM user_user_groups uug JOIN user_groups ug ON ug.user_group_id = uug.user_group_id WHERE ug.role_id = 4096")
        .await;
    let round = db
        .count("SELECT MIN(review_round_id) FROM review_rounds WHERE submission_id = 2")
        .await;
    // Changes made the way an editor's actions land in OJS, some without any timestamp bump.
    db.exec(&format!(
        "UPDATE publication_settings ps JOIN submissions s ON s.current_publication_id = ps.publication_id
            SET ps.setting_value = 'A retitled manuscript' WHERE s.submission_id = 2 AND ps.setting_name = 'title';
         INSERT INTO review_assignments (review_id, submission_id, reviewer_id, review_round_id, stage_id, round,
            date_assigned, date_notified, date_due, date_response_due, last_modified, declined, cancelled, step)
            VALUES (1000, 2, {reviewer}, {round}, 3, 1, NOW(), NOW(), NOW() - INTERVAL 1 DAY, NOW(), NOW(), 0, 0, 1);
         UPDATE review_assignments SET declined = 1 WHERE review_id = (SELECT MIN(r.review_id) FROM (SELECT review_id FROM review_assignments WHERE submission_id = 7) r);
         UPDATE user_settings SET setting_value = 'Université Laval' WHERE user_id = {reviewer} AND setting_name = 'affiliation';
         INSERT INTO user_settings (user_id, locale, setting_name, setting_value)
            SELECT {reviewer}, 'en', 'affiliation', 'Université Laval' FROM DUAL
            WHERE NOT EXISTS (SELECT 1 FROM user_settings WHERE user_id = {reviewer} AND setting_name = 'affiliation' AND locale = 'en');
         INSERT INTO controlled_vocab_entries (controlled_vocab_entry_id, controlled_vocab_id, seq) VALUES (5000, 1, 1);
         INSERT INTO controlled_vocab_entry_settings (controlled_vocab_entry_id, locale, setting_name, setting_value, setting_type)
            VALUES (5000, 'en', 'interest', 'animal welfare', 'string');
         INSERT INTO user_interests (user_id, controlled_vocab_entry_id) VALUES ({reviewer}, 5000);
         DELETE FROM review_assignments WHERE submission_id = 19;
         DELETE FROM edit_decisions WHERE submission_id = 19;
         DELETE FROM review_rounds WHERE submission_id = 19;
         DELETE FROM submissions WHERE submission_id = 19;"
    ))
    .await;
    let report = sync(&db.url(), dir.path()).await.unwrap();
    assert_eq!(report.submissions_deleted, 1, "{report:?}");
    assert_eq!(
        report.submissions_fetched, 2,
        "submissions 2 and 7 changed: {report:?}"
    );
    let s = store(dir.path());
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM submissions").unwrap(),
        18
    );
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM submissions WHERE id = 19")
            .unwrap(),
        0
    );
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM authors WHERE submission_id = 19")
            .unwrap(),
        0,
        "children deleted"
    );
    assert_eq!(store_titles(dir.path()), source_titles(&db).await);
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM review_assignments")
            .unwrap(),
        db.count("SELECT COUNT(*) FROM review_assignments").await
    );
    assert_eq!(
        s.scalar_i64(
            "SELECT declined FROM review_assignments WHERE submission_id = 7 ORDER BY id LIMIT 1"
        )
        .unwrap(),
        1
    );
    let r = s
        .reviewers()
        .unwrap()
        .into_iter()
        .find(|r| r.id == reviewer)
        .unwrap();
    assert_eq!(r.affiliation, "Université Laval");
    assert_eq!(r.interests, vec!["animal welfare".to_string()]);
    let q = s.queue_summary().unwrap();
    assert!(
        q.reviews_overdue >= 1,
        "the new assignment is overdue: {q:?}"
    );
    // And once more: nothing left to do.
    let again = sync(&db.url(), dir.path()).await.unwrap();
    assert_eq!(
        (again.submissions_fetched, again.rows_changed),
        (0, 0),
        "{again:?}"
    );
    db.drop_db().await;
}

/// Puts the source back to the dataset's rows (tables kept, rows replaced).
async fn reset_source(db: &TestDb) {
    db.exec(
        &common::dataset("3.4.0-4")
            .replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS")
            .replace("INSERT INTO", "REPLACE INTO"),
    )
    .await;
}

/// Changes every submission (title and review state) so that a half-applied
/// submission or batch would be visible.
async fn change_everything(db: &TestDb) {
    db.exec(
        "UPDATE publication_settings SET setting_value = CONCAT(setting_value, ' (revised)') WHERE setting_name = 'title';
         UPDATE review_assignments SET cancelled = 1;
         UPDATE submissions SET last_modified = NOW();",
    )
    .await;
}

/// Each stored submission equals its before- or after-state, and the
/// after-states form whole batches in id order. Returns how many were applied.
fn assert_whole_batches(
    now: &BTreeMap<String, Value>,
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
    batch: usize,
) -> usize {
    let mut pattern = String::new();
    for (k, v) in now.iter().filter(|(k, _)| k.starts_with("submission")) {
        if after.get(k) == Some(v) {
            pattern.push('A');
        } else if before.get(k) == Some(v) {
            pattern.push('B');
        } else {
            panic!("{k} is neither its old nor its new state: {v}");
        }
    }
    let applied = pattern.chars().take_while(|c| *c == 'A').count();
    assert!(
        pattern[applied..].chars().all(|c| c == 'B'),
        "batches applied out of order: {pattern}"
    );
    assert!(
        applied % batch == 0 || applied == pattern.len(),
        "a batch was half applied: {pattern}"
    );
    if applied > 0 && applied < pattern.len() {
        1
    } else {
        0
    }
}

#[tokio::test]
async fn connection_dropped_mid_sync_leaves_whole_batches_and_next_run_completes() {
    let db = TestDb::ojs("3.4.0-4").await;
    let host = common::server_url().rsplit('@').next().unwrap().to_string();
    // Reference: the state after the change, from a clean sync.
    let reference = tempfile::tempdir().unwrap();
    sync(&db.url(), reference.path()).await.unwrap();
    let before = snapshot(reference.path());
    change_everything(&db).await;
    sync(&db.url(), reference.path()).await.unwrap();
    let after = snapshot(reference.path());
    assert_ne!(before, after);
    reset_source(&db).await;

    let mut failures = 0;
    let mut partial = 0;
    for cut in [
        600usize, 3_000, 9_000, 20_000, 35_000, 50_000, 70_000, 100_000,
    ] {
        let dir = tempfile::tempdir().unwrap();
        // Start from the mirror of the unchanged source.
        reset_source(&db).await;
        sync(&db.url(), dir.path()).await.unwrap();
        assert_eq!(snapshot(dir.path()), before);
        change_everything(&db).await;
        let proxy = FaultyProxy::start(&host, Some(cut));
        let url = format!(
            "mysql://root@127.0.0.1:{}/{}?prefer_socket=false",
            proxy.port, db.name
        );
        let result = sync_batched(&url, dir.path(), 4).await;
        if let Err(e) = &result {
            failures += 1;
            assert!(
                matches!(e, SyncError::Ojs(o) if o.is_transient()),
                "cut at {cut}: {e}"
            );
            let s = store(dir.path());
            let last_error = s.state("last_error").unwrap().unwrap_or_default();
            assert!(!last_error.is_empty(), "the failure is recorded");
        }
        partial += assert_whole_batches(&snapshot(dir.path()), &before, &after, 4);
        // The next run completes the work.
        drop(proxy);
        sync(&db.url(), dir.path()).await.unwrap();
        assert_eq!(snapshot(dir.path()), after, "cut at {cut}");
    }
    assert!(
        failures >= 5,
        "most cut points must actually interrupt the sync ({failures})"
    );
    assert!(
        partial >= 1,
        "some cuts must land between batches, after some were applied"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn kill_9_mid_sync_leaves_a_consistent_store() {
    let db = TestDb::ojs("3.4.0-4").await;
    let host = common::server_url().rsplit('@').next().unwrap().to_string();
    let reference = tempfile::tempdir().unwrap();
    sync(&db.url(), reference.path()).await.unwrap();
    let before = snapshot(reference.path());
    change_everything(&db).await;
    sync(&db.url(), reference.path()).await.unwrap();
    let after = snapshot(reference.path());

    let proxy = FaultyProxy::start_with_delay(&host, None, 15);
    let url = format!(
        "mysql://root@127.0.0.1:{}/{}?prefer_socket=false",
        proxy.port, db.name
    );
    let mut interrupted = 0;
    let mut partial = 0;
    // Kill points spread over the length of a whole run measured on this
    // machine (qemu-user is several times slower than native).
    let spawn = |dir: &Path| {
        std::process::Command::new(common::bin())
            .args(["sync", "--once"])
            .env("OJSCOG_OJS_URL", &url)
            .env("OJSCOG_DATA_DIR", dir)
            .env("OJSCOG_OJS_BATCH_SIZE", "3")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let whole = {
        let dir = tempfile::tempdir().unwrap();
        let t = std::time::Instant::now();
        assert!(spawn(dir.path()).wait().unwrap().success());
        t.elapsed()
    };
    for fraction in [0.1f64, 0.3, 0.5, 0.7, 0.85] {
        let delay_ms = (whole.as_millis() as f64 * fraction) as u64;
        let dir = tempfile::tempdir().unwrap();
        reset_source(&db).await;
        sync(&db.url(), dir.path()).await.unwrap();
        change_everything(&db).await;
        let mut child = spawn(dir.path());
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let s = store(dir.path());
        assert_eq!(
            s.column_strings("PRAGMA integrity_check").unwrap(),
            vec!["ok".to_string()]
        );
        drop(s);
        partial += assert_whole_batches(&snapshot(dir.path()), &before, &after, 3);
        sync(&db.url(), dir.path()).await.unwrap();
        assert_eq!(snapshot(dir.path()), after, "killed after {delay_ms} ms");
    }
    assert!(
        interrupted >= 3,
        "the kills must land mid-sync ({interrupted})"
    );
    assert!(
        partial >= 1,
        "some kills must land after some batches were committed"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn read_only_mysql_user_is_enough() {
    let db = TestDb::ojs("3.4.0-4").await;
    let url = db.read_only_user().await;
    let dir = tempfile::tempdir().unwrap();
    let report = sync(&url, dir.path()).await.unwrap();
    assert_eq!(report.submissions_seen, 19);
    assert_eq!(
        store(dir.path())
            .scalar_i64("SELECT COUNT(*) FROM review_assignments")
            .unwrap(),
        27
    );
    db.drop_db().await;
}

/// A store holding the 3.4 mirror, for checks that a bad source leaves it alone.
async fn mirrored_store() -> (TestDb, tempfile::TempDir, BTreeMap<String, Value>) {
    let good = TestDb::ojs("3.4.0-4").await;
    let dir = tempfile::tempdir().unwrap();
    sync(&good.url(), dir.path()).await.unwrap();
    let snap = snapshot(dir.path());
    (good, dir, snap)
}

#[tokio::test]
async fn database_that_is_not_ojs_is_refused_and_store_untouched() {
    let (good, dir, snap) = mirrored_store().await;
    let other = TestDb::empty("notojs").await;
    other.exec("CREATE TABLE customers (id INT PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'x');").await;
    let err = sync(&other.url(), dir.path()).await.unwrap_err();
    assert!(matches!(err, SyncError::Ojs(OjsError::NotOjs(_))), "{err}");
    assert!(err.to_string().contains("not an OJS database"), "{err}");
    assert_eq!(snapshot(dir.path()), snap);
    other.drop_db().await;
    good.drop_db().await;
}

#[tokio::test]
async fn half_migrated_schema_names_what_is_missing_and_store_untouched() {
    let (good, dir, snap) = mirrored_store().await;
    let half = TestDb::ojs("3.4.0-4").await;
    half.exec(
        "ALTER TABLE review_assignments CHANGE considered unconsidered SMALLINT NULL;
         DROP TABLE user_interests;",
    )
    .await;
    let err = sync(&half.url(), dir.path()).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, SyncError::Ojs(OjsError::Incomplete { .. })),
        "{msg}"
    );
    assert!(msg.contains("review_assignments.considered"), "{msg}");
    assert!(msg.contains("user_interests"), "{msg}");
    assert!(msg.contains("3.4.0-4"), "{msg}");
    assert_eq!(snapshot(dir.path()), snap);
    half.drop_db().await;
    good.drop_db().await;
}

#[tokio::test]
async fn unsupported_ojs_version_is_refused() {
    let (good, dir, snap) = mirrored_store().await;
    let old = TestDb::ojs("3.4.0-4").await;
    old.exec("UPDATE versions SET minor = 2 WHERE product = 'ojs2' AND current = 1")
        .await;
    let err = sync(&old.url(), dir.path()).await.unwrap_err();
    assert!(
        err.to_string().contains("OJS 3.2.0-4 is not supported"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), snap);
    old.drop_db().await;
    good.drop_db().await;
}

#[tokio::test]
async fn unreachable_ojs_is_transient_and_keeps_the_store() {
    let (good, dir, snap) = mirrored_store().await;
    let err = sync("mysql://root@127.0.0.1:9/ojs", dir.path())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SyncError::Ojs(e) if e.is_transient()),
        "{err}"
    );
    assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
    let s = store(dir.path());
    assert!(s
        .state("last_error")
        .unwrap()
        .unwrap()
        .contains("cannot reach"));
    assert!(
        s.state("last_success_at").unwrap().is_some(),
        "the last success is remembered"
    );
    drop(s);
    assert_eq!(snapshot(dir.path()), snap);
    good.drop_db().await;
}

/// OJS 3.5 moved what this reads: vocab setting names, author affiliations,
/// role periods. The 3.4 dataset is migrated by hand to that shape.
#[tokio::test]
async fn reads_the_ojs_3_5_schema_shape() {
    let db = TestDb::ojs("3.4.0-4").await;
    let dir34 = tempfile::tempdir().unwrap();
    sync(&db.url(), dir34.path()).await.unwrap();
    let affiliations_34 = store(dir34.path())
        .column_strings("SELECT id || ':' || affiliation FROM authors ORDER BY id")
        .unwrap();
    let reviewers = db
        .strings("SELECT CAST(uug.user_id AS CHAR) FROM user_user_groups uug JOIN user_groups ug ON ug.user_group_id = uug.user_group_id WHERE ug.role_id = 4096 ORDER BY uug.user_id")
        .await;
    let (kept, ended) = (reviewers[0].clone(), reviewers[1].clone());
    db.exec(&format!(
        "UPDATE versions SET minor = 5, revision = 0, build = 0 WHERE product = 'ojs2' AND current = 1;
         ALTER TABLE user_user_groups ADD date_start DATETIME NULL, ADD date_end DATETIME NULL, ADD masthead SMALLINT NULL;
         UPDATE user_user_groups uug JOIN user_groups ug ON ug.user_group_id = uug.user_group_id
            SET uug.date_end = '2020-01-01 00:00:00' WHERE ug.role_id = 4096 AND uug.user_id = {ended};
         ALTER TABLE controlled_vocab_entry_settings DROP COLUMN setting_type;
         UPDATE controlled_vocab_entry_settings SET setting_name = 'name';
         ALTER TABLE controlled_vocabs MODIFY assoc_id BIGINT NULL;
         UPDATE controlled_vocabs SET assoc_id = NULL WHERE symbolic = 'interest';
         ALTER TABLE review_assignments ADD date_considered DATETIME NULL, ADD date_cancelled DATETIME NULL;
         CREATE TABLE author_affiliations (author_affiliation_id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
            author_id BIGINT NOT NULL, ror VARCHAR(255) NULL);
         CREATE TABLE author_affiliation_settings (author_affiliation_setting_id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
            author_affiliation_id BIGINT UNSIGNED NOT NULL, locale VARCHAR(28) NOT NULL DEFAULT '',
            setting_name VARCHAR(255) NOT NULL, setting_value MEDIUMTEXT NULL);
         INSERT INTO author_affiliations (author_id) SELECT DISTINCT author_id FROM author_settings
            WHERE setting_name = 'affiliation' AND setting_value <> '';
         INSERT INTO author_affiliation_settings (author_affiliation_id, locale, setting_name, setting_value)
            SELECT af.author_affiliation_id, s.locale, 'name', s.setting_value FROM author_affiliations af
            JOIN author_settings s ON s.author_id = af.author_id AND s.setting_name = 'affiliation' AND s.setting_value <> '';
         DELETE FROM author_settings WHERE setting_name = 'affiliation';
         INSERT INTO controlled_vocab_entries (controlled_vocab_entry_id, controlled_vocab_id, seq) VALUES (5000, 1, 1);
         INSERT INTO controlled_vocab_entry_settings (controlled_vocab_entry_id, locale, setting_name, setting_value)
            VALUES (5000, 'en', 'name', 'veterinary epidemiology');
         INSERT INTO user_interests (user_id, controlled_vocab_entry_id) VALUES ({kept}, 5000);"
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let report = sync(&db.url(), dir.path()).await.unwrap();
    assert_eq!(report.ojs_version, "3.5.0-0");
    let s = store(dir.path());
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM submissions").unwrap(),
        19
    );
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM reviewers").unwrap(),
        3,
        "a reviewer role that ended is not current"
    );
    assert_eq!(
        s.column_strings(&format!(
            "SELECT term FROM reviewer_interests WHERE reviewer_id = {kept}"
        ))
        .unwrap(),
        vec!["veterinary epidemiology".to_string()]
    );
    assert_eq!(
        s.column_strings("SELECT id || ':' || affiliation FROM authors ORDER BY id")
            .unwrap(),
        affiliations_34
    );
    assert!(
        affiliations_34.iter().any(|a| !a.ends_with(':')),
        "the dataset has affiliations to compare"
    );
    assert!(
        s.scalar_i64("SELECT COUNT(*) FROM submission_terms WHERE kind = 'keyword'")
            .unwrap()
            > 0,
        "keywords under the 3.5 setting name"
    );
    db.drop_db().await;
}
