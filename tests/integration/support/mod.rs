//! Shared test support: the shared data directory, throwaway MariaDB
//! databases loaded with PKP's real OJS test datasets, and the fault-injecting proxy.

pub mod browser;
pub mod channel;
pub mod faulty_proxy;
pub mod fuzzing;
pub mod grow;
pub mod models;
pub mod probe;
pub mod web;

use mysql_async::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// `OJSCOG_TEST_DATA` (default `../shared` next to the checkout). Panics loudly when missing:
/// tests that need real data must never pass without it.
pub fn test_data() -> PathBuf {
    let dir = std::env::var_os("OJSCOG_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    assert!(
        dir.join("ojs/datasets").is_dir(),
        "test data not found at {} (set OJSCOG_TEST_DATA to the shared/ directory)",
        dir.display()
    );
    dir
}

pub fn dataset(version: &str) -> String {
    let p = test_data().join(format!("ojs/datasets/ojs-{version}-subset.sql"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Server URL without database: `OJSCOG_TEST_MYSQL_URL`, default root on 127.0.0.1:3306.
pub fn server_url() -> String {
    std::env::var("OJSCOG_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A throwaway database on the test MariaDB server.
pub struct TestDb {
    pub name: String,
    admin: mysql_async::Pool,
}

impl TestDb {
    pub async fn empty(tag: &str) -> TestDb {
        let name = format!(
            "ojscog_t_{}_{}_{}",
            tag,
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let admin = mysql_async::Pool::new(
            mysql_async::Opts::from_url(&server_url()).expect("test server URL"),
        );
        let mut c = admin.get_conn().await.unwrap_or_else(|e| {
            panic!(
                "MariaDB is not reachable at {} ({e}); .ci/run starts it",
                server_url()
            )
        });
        c.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
            .await
            .unwrap();
        c.query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            .await
            .unwrap();
        TestDb { name, admin }
    }

    /// A database loaded with the OJS dataset of `version` ("3.4.0-4" or "3.3.0-16").
    pub async fn ojs(version: &str) -> TestDb {
        let db = TestDb::empty(&version.replace(['.', '-'], "")).await;
        db.exec(&dataset(version)).await;
        db
    }

    pub fn url(&self) -> String {
        format!("{}/{}", server_url(), self.name)
    }

    pub async fn conn(&self) -> mysql_async::Conn {
        let mut c = self.admin.get_conn().await.unwrap();
        c.query_drop(format!("USE `{}`", self.name)).await.unwrap();
        c
    }

    /// Runs one or many statements on this database.
    pub async fn exec(&self, sql: &str) {
        let mut c = self.conn().await;
        c.query_drop(sql)
            .await
            .unwrap_or_else(|e| panic!("{e}\nin SQL: {}", &sql[..sql.len().min(300)]));
    }

    pub async fn strings(&self, sql: &str) -> Vec<String> {
        let mut c = self.conn().await;
        c.query::<String, _>(sql)
            .await
            .unwrap_or_else(|e| panic!("{e}\nin SQL: {sql}"))
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let mut c = self.conn().await;
        c.query_first::<i64, _>(sql).await.unwrap().unwrap_or(0)
    }

    /// A MySQL user with only SELECT on this database; returns its URL.
    pub async fn read_only_user(&self) -> String {
        let user = format!("ro_{}", &self.name[self.name.len().saturating_sub(20)..]);
        let mut c = self.conn().await;
        c.query_drop(format!("DROP USER IF EXISTS '{user}'@'%'"))
            .await
            .unwrap();
        c.query_drop(format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'ro-pass'"))
            .await
            .unwrap();
        c.query_drop(format!("GRANT SELECT ON `{}`.* TO '{user}'@'%'", self.name))
            .await
            .unwrap();
        let host = server_url()
            .rsplit('@')
            .next()
            .unwrap_or("127.0.0.1:3306")
            .to_string();
        format!("mysql://{user}:ro-pass@{host}/{}", self.name)
    }

    pub async fn drop_db(self) {
        let mut c = self.admin.get_conn().await.unwrap();
        c.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name))
            .await
            .unwrap();
        drop(c);
        let _ = self.admin.disconnect().await;
    }
}

/// A config pointing at `url` with a data dir in `dir`.
pub fn config_for(url: &str, dir: &std::path::Path) -> ojscog::config::Config {
    let mut cfg = ojscog::config::Config {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    cfg.ojs.url = url.to_string();
    cfg.ojs.timeout_secs = 10;
    cfg.web.listen = "127.0.0.1:0".into();
    cfg
}

/// Path of the built `ojscog` binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ojscog"))
}

/// Raw SQL against a store's file, through a connection of the test's own:
/// the production `Store` has no raw-SQL door. Read-only; sees every
/// committed write (WAL).
pub trait Inspect {
    /// First column of the first row.
    fn scalar_i64(&self, sql: &str) -> rusqlite::Result<i64>;
    /// Every row's first column as text.
    fn column_strings(&self, sql: &str) -> rusqlite::Result<Vec<String>>;
}

impl Inspect for ojscog::store::Store {
    fn scalar_i64(&self, sql: &str) -> rusqlite::Result<i64> {
        inspect(self.path())?.query_row(sql, [], |r| r.get(0))
    }
    fn column_strings(&self, sql: &str) -> rusqlite::Result<Vec<String>> {
        let conn = inspect(self.path())?;
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect()
    }
}

fn inspect(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}
