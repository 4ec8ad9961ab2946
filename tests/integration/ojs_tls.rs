//! TLS to MySQL: a second MariaDB started for this test with a certificate
//! from a throwaway CA, a user created `REQUIRE SSL`, the OJS 3.4 dataset
//! synced over TLS (`?require_ssl=true` plus `ojs.ssl_ca` for the private CA),
//! and the plain and the untrusted connection refused with clear errors.

use crate::support as common;
use crate::support::Inspect;

use mysql_async::prelude::*;
use ojscog::metrics::Metrics;
use ojscog::store::Store;
use ojscog::sync;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway CA and a server certificate for 127.0.0.1/localhost signed by it.
fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |f: &str| dir.join(f);
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=ojscog throwaway test CA", "-keyout"])
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.pem")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial", "-in"])
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("ext.cnf"))
        .arg("-out")
        .arg(p("server.pem")));
    (p("ca.pem"), p("server.pem"), p("server.key"))
}

/// A mariadbd of its own (data dir, socket, free port), stopped on drop.
struct TlsMariaDb {
    child: Child,
    port: u16,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for TlsMariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsMariaDb {
    async fn start() -> TlsMariaDb {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = make_certs(dir.path());
        let data = dir.path().join("data");
        run(Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args([
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ]));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let socket = dir.path().join("mysqld.sock");
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!(
                "--pid-file={}",
                dir.path().join("mysqld.pid").display()
            ))
            .arg(format!(
                "--log-error={}",
                dir.path().join("error.log").display()
            ))
            .arg(format!("--port={port}"))
            .args(["--bind-address=127.0.0.1", "--user=root", "--skip-log-bin"])
            .arg(format!("--ssl-ca={}", ca.display()))
            .arg(format!("--ssl-cert={}", cert.display()))
            .arg(format!("--ssl-key={}", key.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd starts");
        let db = TlsMariaDb {
            child,
            port,
            socket,
            dir,
        };
        let started = Instant::now();
        loop {
            if let Ok(mut c) = mysql_async::Conn::new(db.admin_opts()).await {
                let _ = c.query_drop("SELECT 1").await;
                let _ = c.disconnect().await;
                break;
            }
            let log = std::fs::read_to_string(db.dir.path().join("error.log")).unwrap_or_default();
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the test mariadbd did not come up:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        db
    }

    fn admin_opts(&self) -> mysql_async::Opts {
        mysql_async::Opts::from_url(&format!(
            "mysql://root@localhost/?socket={}",
            self.socket.display()
        ))
        .unwrap()
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}

#[tokio::test]
async fn the_3_4_dataset_syncs_over_tls_to_a_require_ssl_user_and_plain_connections_fail_clearly() {
    let db = TlsMariaDb::start().await;
    {
        let mut c = mysql_async::Conn::new(db.admin_opts()).await.unwrap();
        c.query_drop("CREATE DATABASE ojs CHARACTER SET utf8mb4")
            .await
            .unwrap();
        c.query_drop("USE ojs").await.unwrap();
        c.query_drop(common::dataset("3.4.0-4")).await.unwrap();
        c.query_drop("CREATE USER 'tls_reader'@'%' IDENTIFIED BY 'tls-pw' REQUIRE SSL")
            .await
            .unwrap();
        c.query_drop("GRANT SELECT ON ojs.* TO 'tls_reader'@'%'")
            .await
            .unwrap();
        let ssl: Vec<(String, String)> = c.query("SHOW VARIABLES LIKE 'have_ssl'").await.unwrap();
        assert_eq!(ssl[0].1, "YES", "the test server has TLS");
        c.disconnect().await.unwrap();
    }
    let base = format!("mysql://tls_reader:tls-pw@127.0.0.1:{}/ojs", db.port);

    // Over TLS, the private CA given as ojs.ssl_ca: the whole dataset arrives.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config_for(&format!("{base}?require_ssl=true"), dir.path());
    cfg.ojs.ssl_ca = db.ca();
    cfg.validate().unwrap();
    let mut store = Store::open(&cfg.store_path()).unwrap();
    let report = sync::run_once(&cfg.ojs, &mut store, &Metrics::new())
        .await
        .expect("sync over TLS");
    assert_eq!(report.ojs_version, "3.4.0-4");
    assert_eq!(
        store
            .column_strings("SELECT CAST(count(*) AS TEXT) FROM submissions")
            .unwrap(),
        vec!["19".to_string()]
    );

    // ojs.ssl_ca alone turns TLS on.
    let mut cfg_ca_only = common::config_for(&base, dir.path());
    cfg_ca_only.ojs.ssl_ca = db.ca();
    sync::run_once(&cfg_ca_only.ojs, &mut store, &Metrics::new())
        .await
        .expect("ssl_ca alone turns TLS on");

    // Without TLS the REQUIRE SSL user is refused, and the error says what to do.
    let plain = common::config_for(&base, dir.path());
    let e = sync::run_once(&plain.ojs, &mut store, &Metrics::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("Access denied"), "{e}");
    assert!(e.contains("require_ssl=true"), "{e}");

    // TLS without the private CA: the certificate is not trusted.
    let untrusted = common::config_for(&format!("{base}?require_ssl=true"), dir.path());
    let e = sync::run_once(&untrusted.ojs, &mut store, &Metrics::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.to_lowercase().contains("certificate") || e.contains("UnknownIssuer"),
        "{e}"
    );
}
