//! The server's limits under the attacks that knocked the tiny_http server
//! over (issue 7): each test sends the attack from real sockets on loopback
//! and checks that the service still answers and did not grow.
//! The service runs in this process, so its fds, threads and memory are ours.

use crate::support::web;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use web::*;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn status_field(name: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn threads() -> u64 {
    status_field("Threads:")
}

fn rss_kib() -> u64 {
    status_field("VmRSS:")
}

/// Reads what the server sends until it closes or `timeout` passes; returns
/// (bytes, closed by the server).
fn read_all(s: &mut TcpStream, timeout: Duration) -> (String, bool) {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let end = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&out).into_owned(), true)
            }
            Err(_) => {}
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), false)
}

/// Waits until `f` holds (the server closes sockets asynchronously).
fn eventually(what: &str, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < end, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn absurd_content_lengths_leak_no_fds_or_threads() {
    let t = start_demo();
    assert_eq!(t.get("/health").status, 200);
    let (fds, thr) = (open_fds(), threads());
    for _ in 0..600 {
        let mut s = TcpStream::connect(t.addr).unwrap();
        s.write_all(
            b"POST /api/sync HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999\r\n\r\n",
        )
        .unwrap();
        let (resp, closed) = read_all(&mut s, Duration::from_secs(5));
        assert_eq!(raw_status(&resp), Some(413), "{resp}");
        assert!(
            resp.to_ascii_lowercase().contains("connection: close"),
            "{resp}"
        );
        assert!(
            closed,
            "the server closes the connection instead of parking it"
        );
    }
    eventually("fds back to where they were", || open_fds() <= fds + 4);
    // Idle runtime threads linger a while before they exit (slowly under
    // qemu-user: "threads grew from 10 to 15" on the aarch64 run, 2026-11-30).
    eventually(&format!("threads back near {thr}"), || threads() <= thr + 4);
    assert_eq!(t.get("/health").status, 200);
    t.stop();
}

#[test]
fn too_many_connections_are_refused_at_once_and_the_port_stays_alive() {
    // max_connections 8: more loopback clients than that get 503 + close
    // (loopback keeps a few extra for the box's own watchdog).
    let t = start_with(|c| c.web.max_connections = 8, true);
    let mut held = Vec::new();
    for _ in 0..(8 + ojscog_loopback_extra()) {
        let mut s = TcpStream::connect(t.addr).unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
            .unwrap(); // head never ends
        held.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = TcpStream::connect(t.addr).unwrap();
    let (resp, closed) = read_all(&mut extra, Duration::from_secs(5));
    assert_eq!(raw_status(&resp), Some(503), "{resp}");
    assert!(resp.contains("Retry-After"), "{resp}");
    assert!(closed);
    let m = t.get_anon("/metrics");
    // (that request may itself be refused while all are held)
    drop(m);
    drop(held);
    eventually("the port answers again", || {
        let mut s = TcpStream::connect(t.addr).unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        raw_status(&read_all(&mut s, Duration::from_secs(5)).0) == Some(200)
    });
    let metrics = t.get_anon("/metrics").body;
    assert!(
        metrics.contains("ojscog_http_connections_refused_total "),
        "{metrics}"
    );
    t.stop();
}

fn ojscog_loopback_extra() -> usize {
    8
}

/// A connection from `source` (another loopback address stands for a PC on
/// the office LAN; the box's own watchdog uses 127.0.0.1).
fn connect_from(source: std::net::Ipv4Addr, to: std::net::SocketAddr) -> TcpStream {
    use std::os::fd::FromRawFd;
    let port = to.port();
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let mut a: libc::sockaddr_in = std::mem::zeroed();
        a.sin_family = libc::AF_INET as libc::sa_family_t;
        a.sin_addr.s_addr = u32::from_ne_bytes(source.octets());
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, &a as *const _ as *const libc::sockaddr, len),
            0
        );
        a.sin_port = port.to_be();
        a.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        assert_eq!(
            libc::connect(fd, &a as *const _ as *const libc::sockaddr, len),
            0
        );
        TcpStream::from_raw_fd(fd)
    }
}

#[test]
fn one_lan_client_cannot_take_every_connection_and_the_watchdog_is_answered() {
    let t = start_demo(); // max_connections 128: 16 per client
    let lan = std::net::Ipv4Addr::new(127, 0, 0, 2);
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..40 {
        let mut s = connect_from(lan, t.addr);
        s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
            .unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut b = [0u8; 64];
        match s.read(&mut b) {
            Ok(n) if n > 0 && raw_status(&String::from_utf8_lossy(&b[..n])) == Some(503) => {
                refused += 1
            }
            _ => held.push(s),
        }
    }
    assert_eq!(held.len(), 16, "one client holds at most its share");
    assert_eq!(refused, 24);
    // Another LAN client and the box's own watchdog are still served.
    let other = std::net::Ipv4Addr::new(127, 0, 0, 3);
    let mut s = connect_from(other, t.addr);
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(
        raw_status(&read_all(&mut s, Duration::from_secs(5)).0),
        Some(200)
    );
    assert_eq!(t.get_anon("/health").status, 200);
    drop(held);
    t.stop();
}

#[test]
fn slowloris_connections_are_cut_off_after_the_read_timeout() {
    let t = start_with(|c| c.web.read_timeout_secs = 1, true);
    let mut slow = TcpStream::connect(t.addr).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    // A byte every 300 ms keeps the socket busy, never finishing the head.
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(15) {
        if slow.write_all(b"X").is_err() {
            closed = true;
            break;
        }
        slow.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut b = [0u8; 256];
        match slow.read(&mut b) {
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                closed = true;
                break;
            }
            Err(_) => {}
        }
    }
    assert!(closed, "a head that never ends is cut off");
    // An idle connection is closed too.
    let mut idle = TcpStream::connect(t.addr).unwrap();
    let (_, closed) = read_all(&mut idle, Duration::from_secs(10));
    assert!(
        closed,
        "an idle connection is closed after the read timeout"
    );
    assert_eq!(t.get("/health").status, 200);
    t.stop();
}

#[test]
fn an_endless_header_line_gets_431_without_growing_memory() {
    let t = start_demo();
    let before = rss_kib();
    let mut s = TcpStream::connect(t.addr).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Long: ")
        .unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0usize;
    // Up to 64 MB; the server answers and closes long before.
    while sent < 64 * 1024 * 1024 {
        if s.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let (resp, _) = read_all(&mut s, Duration::from_secs(5));
    if !resp.is_empty() {
        assert_eq!(raw_status(&resp), Some(431), "{resp}");
    }
    assert!(sent < 64 * 1024 * 1024, "the server stopped reading");
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
    assert_eq!(t.get("/health").status, 200);
    t.stop();
}

#[test]
fn too_many_headers_get_431() {
    let t = start_demo();
    let mut req = String::from("GET /health HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..200 {
        req.push_str(&format!("X-H{i}: v\r\n"));
    }
    req.push_str("\r\n");
    let resp = raw(t.addr, req.as_bytes(), Duration::from_secs(5));
    assert_eq!(raw_status(&resp), Some(431), "{resp}");
    // 200,000 headers: refused as early, the service unaffected.
    let mut s = TcpStream::connect(t.addr).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    let line = b"X-A: b\r\n".repeat(1000);
    for _ in 0..200 {
        if s.write_all(&line).is_err() {
            break;
        }
    }
    let (resp, _) = read_all(&mut s, Duration::from_secs(5));
    assert!(resp.is_empty() || raw_status(&resp) == Some(431), "{resp}");
    assert_eq!(t.get("/health").status, 200);
    t.stop();
}

#[test]
fn stalled_bodies_over_the_limit_are_refused_without_buffering() {
    let t = start_demo();
    let before = rss_kib();
    let mut conns = Vec::new();
    for _ in 0..60 {
        let mut s = TcpStream::connect(t.addr).unwrap();
        s.write_all(
            b"POST /api/sync HTTP/1.1\r\nHost: localhost\r\nContent-Length: 60000000\r\n\r\n",
        )
        .unwrap();
        s.write_all(&[b'a'; 1024 * 1024]).ok();
        conns.push(s);
    }
    for s in &mut conns {
        let (resp, _) = read_all(s, Duration::from_secs(5));
        assert_eq!(raw_status(&resp), Some(413), "{resp}");
    }
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "RSS grew by {grown} KiB");
    // A body within the limit that stalls half way is cut off by the read
    // timeout and holds no worker meanwhile.
    let mut s = TcpStream::connect(t.addr).unwrap();
    s.write_all(b"POST /api/sync HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\nabc")
        .unwrap();
    for _ in 0..5 {
        assert_eq!(t.get("/api/submissions?limit=1").status, 200);
    }
    let (resp, closed) = read_all(&mut s, Duration::from_secs(20));
    assert_eq!(raw_status(&resp), Some(408), "{resp}");
    assert!(closed);
    t.stop();
}

/// Regression (CI, 2026-11-30): an upload refused before its body was read was
/// closed with the body unread, and the kernel's reset beat the answer — the
/// client saw "Broken pipe" instead of 401.
#[test]
fn an_upload_refused_for_its_credentials_is_answered_not_reset() {
    let t = start_demo();
    let wav = vec![0u8; 1 << 20];
    for _ in 0..5 {
        assert_eq!(t.post("/api/voice", None, &wav).status, 401);
        assert_eq!(t.post("/api/voice", Some(READ_TOKEN), &wav).status, 403);
    }
    // (That the refused bodies are dropped, not kept, is read in request.rs: this process's RSS is shared with every
    // test running beside it, too noisy to measure 20 MiB against; it failed that way in CI, 2026-12-01.)
    assert_eq!(t.get("/health").status, 200);
    t.stop();
}
