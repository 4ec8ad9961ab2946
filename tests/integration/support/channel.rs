//! A real update channel for tests: a directory published with the real
//! `ojscog release` code (real minisign keys, real model files), served by a
//! small HTTP/1.1 file server on loopback that honours `Range`, and that can
//! be told to cut answers short or to go away and come back (fault injection,
//! named so).

// The fault-injection half is used by tests that install the embedding model
// (built with the `embeddings` feature only).
#![cfg_attr(not(feature = "embeddings"), allow(dead_code))]

use ojscog::update::release;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A publisher's channel directory and its signing key.
pub struct Publisher {
    pub dir: PathBuf,
    pub public_key: PathBuf,
    pub secret_key: PathBuf,
}

impl Publisher {
    /// A fresh channel directory under `root` with a new (unencrypted, test-only) key pair.
    pub fn new(root: &Path, key_name: &str) -> Publisher {
        let dir = root.join("channel");
        let keys = root.join(format!("keys-{key_name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (public_key, secret_key) =
            release::keygen(&keys, &format!("TEST-ONLY-{key_name}"), None).unwrap();
        Publisher {
            dir,
            public_key,
            secret_key,
        }
    }

    /// Copies `files` (name inside the version → source) as model `name`/`version`.
    pub fn add_model(&self, name: &str, version: &str, files: &[(&str, &Path)]) -> PathBuf {
        let vdir = self.dir.join("models").join(name).join(version);
        std::fs::create_dir_all(&vdir).unwrap();
        for (dest, src) in files {
            let to = vdir.join(dest);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(src, &to).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
        }
        vdir
    }

    /// Writes and signs the index with `serial`; returns the index bytes.
    pub fn publish(&self, serial: u64) -> Vec<u8> {
        self.publish_with(serial, &self.secret_key)
    }

    pub fn publish_with(&self, serial: u64, key: &Path) -> Vec<u8> {
        let index = release::build_index(&self.dir, serial, "test channel", 1_790_000_000).unwrap();
        release::write_index(&self.dir, &index).unwrap();
        release::sign(&self.dir, key, None).unwrap();
        std::fs::read(self.dir.join("index.json")).unwrap()
    }

    /// The signed index and signature as they are now (to replay them later).
    pub fn snapshot(&self) -> (Vec<u8>, Vec<u8>) {
        (
            std::fs::read(self.dir.join("index.json")).unwrap(),
            std::fs::read(self.dir.join("index.json.minisig")).unwrap(),
        )
    }

    pub fn restore(&self, snap: &(Vec<u8>, Vec<u8>)) {
        std::fs::write(self.dir.join("index.json"), &snap.0).unwrap();
        std::fs::write(self.dir.join("index.json.minisig"), &snap.1).unwrap();
    }
}

/// What the server saw: each request's path and Range header.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub range: Option<String>,
}

struct Shared {
    root: PathBuf,
    /// Fault injection: answers carry at most this many body bytes, then the
    /// connection is closed (0: no limit).
    cut_after: AtomicU64,
    stopping: AtomicBool,
    seen: Mutex<Vec<Seen>>,
    /// Fault injection: body bytes per second at most (0: no limit).
    rate: AtomicU64,
}

/// A Range-capable static file server on 127.0.0.1.
pub struct ChannelServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ChannelServer {
    pub fn start(root: &Path) -> ChannelServer {
        Self::start_on(root, "127.0.0.1:0".parse().unwrap())
    }

    /// Starts on `addr` (to come back on the same port after [`ChannelServer::stop`]).
    pub fn start_on(root: &Path, addr: SocketAddr) -> ChannelServer {
        let listener = bind_retrying(addr);
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            root: root.to_path_buf(),
            cut_after: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            seen: Mutex::new(Vec::new()),
            rate: AtomicU64::new(0),
        });
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            while !s.stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let s = s.clone();
                        std::thread::spawn(move || {
                            let _ = serve(stream, &s);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        ChannelServer {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    pub fn index_url(&self) -> String {
        format!("http://{}/index.json", self.addr)
    }

    pub fn cut_after(&self, bytes: u64) {
        self.shared.cut_after.store(bytes, Ordering::SeqCst);
    }

    pub fn limit_rate(&self, bytes_per_second: u64) {
        self.shared.rate.store(bytes_per_second, Ordering::SeqCst);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Stops accepting (the server "dies"); open answers are cut at their next chunk.
    pub fn stop(mut self) -> SocketAddr {
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.addr
    }
}

impl Drop for ChannelServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
    }
}

fn bind_retrying(addr: SocketAddr) -> TcpListener {
    for _ in 0..100 {
        if let Ok(l) = TcpListener::bind(addr) {
            return l;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("cannot bind {addr}");
}

fn serve(stream: TcpStream, s: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            }
        }
    }
    s.seen.lock().unwrap().push(Seen {
        path: path.clone(),
        range: range.clone(),
    });
    let rel = path.trim_start_matches('/');
    let file = s.root.join(rel);
    if rel.split('/').any(|p| p == "..") || !file.is_file() {
        write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return Ok(());
    }
    let data = std::fs::read(&file)?;
    let len = data.len() as u64;
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|n| n.parse::<u64>().ok());
    let (status, from) = match start {
        Some(st) if st >= len => {
            write!(out, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
            return Ok(());
        }
        Some(st) => (206, st),
        None => (200, 0),
    };
    let body = &data[from as usize..];
    if status == 206 {
        write!(
            out,
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {from}-{}/{len}\r\n",
            len - 1
        )?;
    } else {
        write!(out, "HTTP/1.1 200 OK\r\n")?;
    }
    write!(
        out,
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    let cut = s.cut_after.load(Ordering::SeqCst);
    let limit = if cut > 0 {
        (cut as usize).min(body.len())
    } else {
        body.len()
    };
    let rate = s.rate.load(Ordering::SeqCst);
    let began = std::time::Instant::now();
    let mut sent = 0usize;
    for chunk in body[..limit].chunks(16 * 1024) {
        if s.stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        out.write_all(chunk)?;
        sent += chunk.len();
        if rate > 0 {
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(w) = due.checked_sub(began.elapsed()) {
                std::thread::sleep(w);
            }
        }
    }
    // A cut answer: the connection closes here with the body incomplete.
    out.flush()
}
