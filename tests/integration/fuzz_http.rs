//! Black-box fuzzing of the HTTP server's request head and query parsing:
//! generated and mutated raw request heads go over TCP to the real binary
//! (`serve --demo` on a free loopback port). Every answer must begin with a
//! well-formed status line (or the connection is closed without one), the
//! process must stay up, and `/health` must still answer afterwards.
//!
//! Runs for `OJSCOG_FUZZ_SECS` like the other fuzz targets.

use crate::support::fuzzing;

use proptest::prelude::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long one answer may take before the case counts as a hang (not a
/// timing assertion: a working server answers at once, a hung one never).
const HANG: Duration = Duration::from_secs(10);

struct Server {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    // OJSCOG_BIN: a copy of the binary for long runs (the shared target
    // directory's binary may be rebuilt from another checkout meanwhile).
    let bin = std::env::var_os("OJSCOG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ojscog")));
    let mut child = Command::new(bin)
        .args(["serve", "--demo"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("OJSCOG_DATA_DIR", dir.path().join("data"))
        .env("OJSCOG_WEB_LISTEN", "127.0.0.1:0")
        .env("OJSCOG_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ojscog binary starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sent {
                continue; // keep draining so the server never blocks on stderr
            }
            if let Some(rest) = line.split("http://").nth(1) {
                let hostport: String = rest.chars().take_while(|c| *c != '/').collect();
                let _ = tx.send(hostport);
                sent = true;
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("serve printed its address");
    Server {
        child,
        addr,
        _dir: dir,
    }
}

/// Sends `bytes`, closes the sending side, and returns what came back
/// (at most 64 KiB); `None` when nothing came back within [`HANG`].
fn exchange(addr: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(addr).expect("the server accepts connections");
    s.set_read_timeout(Some(HANG)).unwrap();
    s.set_write_timeout(Some(HANG)).unwrap();
    // The server may close early (e.g. a 431 before the head ends): a write
    // error is not a failure, the answer decides.
    let _ = s.write_all(bytes);
    let _ = s.shutdown(Shutdown::Write);
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() >= 64 * 1024 {
                    return Some(got);
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::ConnectionReset
                    || e.kind() == std::io::ErrorKind::BrokenPipe =>
            {
                return Some(got)
            }
            Err(_) => return None,
        }
    }
}

/// `HTTP/1.x NNN ` at the start, or an empty answer (a close).
fn well_formed(answer: &[u8]) -> bool {
    if answer.is_empty() {
        return true;
    }
    let line_end = answer
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(answer.len());
    let line = &answer[..line_end];
    line.len() >= 12
        && (line.starts_with(b"HTTP/1.1 ") || line.starts_with(b"HTTP/1.0 "))
        && line[9..12].iter().all(u8::is_ascii_digit)
        && (100..600).contains(
            &std::str::from_utf8(&line[9..12])
                .unwrap()
                .parse::<u16>()
                .unwrap(),
        )
        && (line.len() == 12 || line[12] == b' ')
}

fn health_ok(addr: &str) -> bool {
    let answer = exchange(
        addr,
        format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    matches!(answer, Some(a) if a.starts_with(b"HTTP/1.1 200") || a.starts_with(b"HTTP/1.0 200"))
}

const PATHS: &[&str] = &[
    "/",
    "/health",
    "/metrics",
    "/api/submissions",
    "/api/submissions/1",
    "/api/submissions/999999999999999999999",
    "/api/submissions/-1/reviewers",
    "/api/submissions/abc/assessment",
    "/api/reviewers",
    "/api/search",
    "/api/sync",
    "/static/../../etc/passwd",
    "*",
    "http://example.com/health",
    "",
];

const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "get", "PRI", "",
];

const VERSIONS: &[&str] = &[
    "HTTP/1.1",
    "HTTP/1.0",
    "HTTP/2.0",
    "HTTP/0.9",
    "HTTP/1.",
    "http/1.1",
    "HTTP/1.1 extra",
    "",
];

fn query() -> impl Strategy<Value = String> {
    let pair = (
        prop_oneof![
            Just("q".to_string()),
            Just("status".to_string()),
            Just("limit".to_string()),
            Just("stage".to_string()),
            Just("offset".to_string()),
            "[a-z%=&+]{0,6}",
        ],
        prop_oneof![
            "[a-zA-Z0-9 ]{0,12}",
            "(%[0-9a-fA-F]{2}){0,6}",
            "%[0-9a-zA-Z]{0,2}",
            any::<i64>().prop_map(|n| n.to_string()),
            Just("99999999999999999999999".to_string()),
            Just("%00%FF%C0%80".to_string()),
            "[^ \r\n]{0,20}",
        ],
    )
        .prop_map(|(k, v)| format!("{k}={v}"));
    prop::collection::vec(pair, 0..5).prop_map(|p| {
        if p.is_empty() {
            String::new()
        } else {
            format!("?{}", p.join("&"))
        }
    })
}

fn header() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Host: 127.0.0.1".to_string()),
        Just("Host:".to_string()),
        "Host: [^\r\n]{0,30}",
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            Just("-1".to_string()),
            Just("18446744073709551616".to_string()),
            Just("0x10".to_string()),
            Just("5, 6".to_string()),
            Just("".to_string()),
            (0u32..64).prop_map(|n| n.to_string()),
        ]
        .prop_map(|v| format!("Content-Length: {v}")),
        prop_oneof![
            Just("chunked"),
            Just("gzip, chunked"),
            Just("chunked, identity"),
            Just("bogus"),
        ]
        .prop_map(|v| format!("Transfer-Encoding: {v}")),
        Just("Connection: close".to_string()),
        Just("Connection: keep-alive".to_string()),
        Just("Expect: 100-continue".to_string()),
        Just("Authorization: Bearer x".to_string()),
        Just("Cookie: ojscog_session=abc; x=y".to_string()),
        Just("Origin: http://evil.example".to_string()),
        "[A-Za-z-]{1,12}: [^\r\n]{0,40}",
        "[^\r\n]{0,40}",
        " folded continuation".prop_map(|s| s.to_string()),
        (1usize..20_000).prop_map(|n| format!("X-Long: {}", "a".repeat(n))),
    ]
}

#[derive(Debug, Clone)]
struct Head {
    method: String,
    target: String,
    version: String,
    headers: Vec<String>,
    newline: &'static str,
    body: Vec<u8>,
    /// (index, byte) replacements applied to the finished bytes.
    edits: Vec<(usize, u8)>,
    truncate: Option<usize>,
}

impl Head {
    fn bytes(&self) -> Vec<u8> {
        let nl = self.newline;
        let mut s = format!("{} {} {}{nl}", self.method, self.target, self.version);
        for h in &self.headers {
            s.push_str(h);
            s.push_str(nl);
        }
        s.push_str(nl);
        let mut b = s.into_bytes();
        b.extend_from_slice(&self.body);
        if !b.is_empty() {
            for &(i, v) in &self.edits {
                let i = i % b.len();
                b[i] = v;
            }
        }
        if let Some(t) = self.truncate {
            b.truncate(t);
        }
        b
    }
}

fn head() -> impl Strategy<Value = Head> {
    (
        prop::sample::select(METHODS).prop_map(str::to_string),
        (prop::sample::select(PATHS), query(), "[^ \r\n?]{0,6}")
            .prop_map(|(p, q, junk)| format!("{p}{junk}{q}")),
        prop::sample::select(VERSIONS).prop_map(str::to_string),
        prop::collection::vec(header(), 0..8),
        prop_oneof![4 => Just("\r\n"), 1 => Just("\n"), 1 => Just("\r")],
        prop::collection::vec(any::<u8>(), 0..64),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ],
        prop_oneof![4 => Just(None), 1 => (0usize..200).prop_map(Some)],
    )
        .prop_map(
            |(method, target, version, headers, newline, body, edits, truncate)| Head {
                method,
                target,
                version,
                headers,
                newline,
                body,
                edits,
                truncate,
            },
        )
}

#[test]
fn any_request_head_gets_a_well_formed_status_line_or_a_close_and_health_survives() {
    let mut server = start_server();
    let addr = server.addr.clone();
    assert!(health_ok(&addr), "/health answers before the fuzzing");
    let sent = std::cell::Cell::new(0u64);
    // Problems are collected rather than shrunk (a hang costs HANG each, and
    // one kind of malformed answer should not hide the others); the test
    // fails at the end if there was any, with a count per kind and examples.
    let problems =
        std::cell::RefCell::new(std::collections::BTreeMap::<String, (u64, String)>::new());
    fuzzing::fuzz("http", head(), |h| {
        let bytes = h.bytes();
        let answer = exchange(&addr, &bytes);
        sent.set(sent.get() + 1);
        let kind = match &answer {
            None => Some(format!("no answer and no close within {HANG:?}")),
            Some(a) if !well_formed(a) => {
                let first = a.split(|b| *b == b'\n').next().unwrap_or_default();
                Some(format!(
                    "malformed status line {:?}",
                    String::from_utf8_lossy(&first[..first.len().min(40)])
                ))
            }
            Some(_) => None,
        };
        if let Some(kind) = kind {
            let example = format!(
                "{:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            );
            let mut p = problems.borrow_mut();
            let e = p.entry(kind).or_insert((0, example));
            e.0 += 1;
        }
        Ok(())
    });
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server process is still running after {} requests",
        sent.get()
    );
    assert!(health_ok(&addr), "/health still answers after the fuzzing");
    let problems = problems.into_inner();
    let report: Vec<String> = problems
        .iter()
        .map(|(kind, (n, example))| format!("{n} × {kind}, e.g. {example}"))
        .collect();
    eprintln!(
        "fuzz http: {} requests, problems: {}",
        sent.get(),
        report.len()
    );
    assert!(
        problems.is_empty(),
        "of {} requests:\n{}",
        sent.get(),
        report.join("\n")
    );
}
