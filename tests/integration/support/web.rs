//! Shared by the web tests: a real service on a free port, a real HTTP
//! client (ureq), and raw sockets for what no polite client sends.

use ojscog::config::Config;
use ojscog::service::Service;
use ojscog::store::Store;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// The read token of the test config; `get` sends it unless told otherwise.
pub const READ_TOKEN: &str = "test-read-token-0123456789";

/// A running service and the temporary data directory under it.
pub struct TestService {
    pub svc: Option<Service>,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

pub fn config(dir: &std::path::Path) -> Config {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    config.web.listen = "127.0.0.1:0".into();
    config.web.admin_token = ADMIN_TOKEN.into();
    config.web.read_token = READ_TOKEN.into();
    config.web.workers = 2;
    config.web.max_body_bytes = 4096;
    config.validate().expect("test config is valid");
    config
}

/// The service in demo mode with the test config.
pub fn start_demo() -> TestService {
    start_with(|_| {}, true)
}

/// The service with the test config changed by `edit`.
pub fn start_with(edit: impl FnOnce(&mut Config), demo: bool) -> TestService {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    edit(&mut cfg);
    let source = match demo {
        true => ojscog::sync::Source::Demo,
        false if cfg.ojs.is_configured() => ojscog::sync::Source::Ojs,
        false => ojscog::sync::Source::None,
    };
    let listener = ojscog::web::bind(&cfg.web.listen).expect("binds");
    let svc = Service::start(cfg, source, listener).expect("service starts");
    let addr = svc.local_addr;
    TestService {
        svc: Some(svc),
        addr,
        dir,
    }
}

impl TestService {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn service(&self) -> &Service {
        self.svc.as_ref().expect("service is running")
    }

    /// A read-only view of the service's store, to check answers against.
    pub fn store(&self) -> Store {
        Store::open_read_only(&self.service().ctx.store_path).expect("store opens")
    }

    /// A writable handle, for test setup (history samples, odd records).
    pub fn writable_store(&self) -> Store {
        Store::open(&self.service().ctx.store_path).expect("store opens")
    }

    /// Waits until the background indexer has embedded the store for the
    /// current model (the AI routes answer "indexing in progress" before).
    pub fn wait_for_index(&self) {
        use ojscog::agents::indexer::IndexState;
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let p = self.service().ctx.indexer.progress();
            if p.state == IndexState::Idle && p.total > 0 && p.done == p.total {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the indexer did not finish: {p:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the metrics sampler has written its first samples (it
    /// opens the store on its own thread, a moment after start).
    pub fn wait_for_first_sample(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let n = self
                .store()
                .samples(ojscog::metrics::names::CPU_USAGE, 0)
                .expect("samples")
                .len();
            if n > 0 {
                return;
            }
            assert!(Instant::now() < deadline, "the sampler wrote nothing");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the service and returns how long that took.
    pub fn stop(mut self) -> Duration {
        let started = Instant::now();
        if let Some(svc) = self.svc.take() {
            svc.stop();
        }
        started.elapsed()
    }

    /// A GET with the read token (as an API client sends it).
    pub fn get(&self, path: &str) -> Reply {
        let req = agent()
            .get(&self.url(path))
            .set("Authorization", &format!("Bearer {READ_TOKEN}"));
        call(req, None)
    }

    /// A GET without credentials.
    pub fn get_anon(&self, path: &str) -> Reply {
        call(agent().get(&self.url(path)), None)
    }

    /// A GET with extra headers and no token unless one is among them.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = agent().get(&self.url(path));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        call(req, None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &[u8]) -> Reply {
        let mut req = agent().post(&self.url(path));
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        call(req, Some(body))
    }

    /// Any method, with the read token.
    pub fn request(&self, method: &str, path: &str) -> Reply {
        let req = agent()
            .request(method, &self.url(path))
            .set("Authorization", &format!("Bearer {READ_TOKEN}"));
        call(req, None)
    }
}

impl Drop for TestService {
    fn drop(&mut self) {
        if let Some(svc) = self.svc.take() {
            svc.stop();
        }
    }
}

pub fn agent() -> ureq::Agent {
    // Long enough for a screening call on a loaded 2-core machine.
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(180))
        .redirects(0)
        .build()
}

/// A response with the body read, whatever its status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn call(req: ureq::Request, body: Option<&[u8]>) -> Reply {
    let result = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = resp.status();
    let content_type = resp.header("Content-Type").unwrap_or("").to_string();
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = resp.header(&n).unwrap_or("").to_string();
            (n, v)
        })
        .collect();
    let body = resp.into_string().expect("body is text");
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}

/// Sends raw bytes and reads until the server closes or `timeout` passes.
pub fn raw(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(timeout)).expect("timeout");
    s.write_all(bytes).expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of a raw HTTP response ("HTTP/1.1 404 Not Found" → 404).
pub fn raw_status(response: &str) -> Option<u16> {
    response
        .strip_prefix("HTTP/1.")?
        .get(2..5)?
        .trim()
        .parse()
        .ok()
}

/// `promtool check metrics` on `text`: the exposition format is valid for Prometheus itself.
pub fn promtool_check(text: &str) {
    let promtool = std::path::Path::new("/usr/bin/promtool");
    assert!(
        promtool.exists(),
        "promtool is missing: install the Debian package `prometheus` (it ships /usr/bin/promtool)"
    );
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("promtool reads");
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success(),
        "promtool check metrics failed ({}):\n{}{}\n--- metrics ---\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
