//! The server install's systemd side: the real binary speaks the notify protocol
//! to a socket the test binds (as systemd does for a `Type=notify` unit), and the
//! unit file passes `systemd-analyze verify` and `security`. The package itself
//! (`dpkg -i`/`-r`) is tested by scripts/test-deb.sh, outside this binary, because
//! it installs `/etc/ojscog/config.toml`, which every other test's binary would read.

use crate::support::bin;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn unit_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/deb/ojscog.service")
}

/// Kills the service if the test fails half way (a panic must not leave it running).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next datagram's lines, or None after `within`.
fn next_message(sock: &UnixDatagram, within: Duration) -> Option<String> {
    sock.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn serve_tells_systemd_when_it_is_ready_pets_its_watchdog_and_says_when_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    // systemd names the process its watchdog is for (WATCHDOG_PID): a shell that execs the binary keeps its pid.
    let child = Command::new("sh")
        .args(["-c", "WATCHDOG_PID=$$ exec \"$0\" serve --demo"])
        .arg(bin())
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("OJSCOG_DATA_DIR", dir.path().join("data"))
        .env("OJSCOG_WEB_LISTEN", format!("127.0.0.1:{port}"))
        .env("NOTIFY_SOCKET", &sock_path)
        // WatchdogSec=1: a pet every half second.
        .env("WATCHDOG_USEC", "1000000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);

    let ready = next_message(&sock, Duration::from_secs(60)).expect("READY=1 within a minute");
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(
        ready
            .lines()
            .any(|l| l.starts_with("STATUS=serving on 127.0.0.1:")),
        "{ready:?}"
    );
    // Ready means answering: /health works at once.
    let health = ureq::get(&format!("http://127.0.0.1:{port}/health"))
        .call()
        .unwrap();
    assert_eq!(health.status(), 200);

    let t = Instant::now();
    let mut pets = 0;
    while pets < 4 {
        let m = next_message(&sock, Duration::from_secs(5)).expect("WATCHDOG=1 every half timeout");
        assert_eq!(m.trim(), "WATCHDOG=1");
        pets += 1;
    }
    // Four pets at 0.5 s: about 1.5–2 s, not a busy loop.
    assert!(
        t.elapsed() >= Duration::from_millis(1200),
        "{:?}",
        t.elapsed()
    );

    let ok = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    // Pets that were on their way, then STOPPING=1.
    let stopping = loop {
        let m = next_message(&sock, Duration::from_secs(10)).expect("STOPPING=1 on SIGTERM");
        if m.trim() != "WATCHDOG=1" {
            break m;
        }
    };
    assert_eq!(stopping.trim(), "STOPPING=1");
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    // verify resolves ExecStart=/usr/bin/ojscog inside --root: a scratch root holding this build's binary.
    let root = tempfile::tempdir().unwrap();
    let unit_dir = root.path().join("etc/systemd/system");
    std::fs::create_dir_all(&unit_dir).unwrap();
    std::fs::create_dir_all(root.path().join("usr/bin")).unwrap();
    std::fs::copy(bin(), root.path().join("usr/bin/ojscog")).unwrap();
    std::fs::copy(unit_file(), unit_dir.join("ojscog.service")).unwrap();
    // The targets it names (multi-user, network-online, sysinit) come from this machine's systemd.
    std::fs::create_dir_all(root.path().join("usr/lib/systemd")).unwrap();
    let status = Command::new("cp")
        .args(["-r", "/lib/systemd/system"])
        .arg(root.path().join("usr/lib/systemd/"))
        .status();
    assert!(
        status.map(|s| s.success()).unwrap_or(false),
        "cannot copy /lib/systemd/system"
    );
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", root.path().display()))
        .arg(unit_dir.join("ojscog.service"))
        .output()
        .expect("systemd-analyze (Debian: systemd) is needed for this test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // systemd-analyze exits 0 on unknown keys and bad values, but names the file and line: none may be ours.
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ojscog.service"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{text}");
}

#[test]
fn the_unit_s_exposure_score_is_ok_or_better() {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(unit_file())
        .output()
        .expect("systemd-analyze (Debian: systemd) is needed for this test");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no exposure level in:\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    // "→ Overall exposure level for ojscog.service: 1.7 OK 🙂"
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score in {line:?}"));
    eprintln!("systemd-analyze security: {}", line.trim());
    // systemd's scale: < 2 is "OK" (0 best, 10 worst).
    assert!(score < 2.0, "{line}\n{text}");
}
