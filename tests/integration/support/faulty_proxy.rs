//! FAULT INJECTION ONLY: a TCP proxy on 127.0.0.1 in front of the real MariaDB
//! that cuts the connection after a given number of bytes from the server.
//! Used to drop the OJS connection at chosen points in the middle of a sync.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

pub struct FaultyProxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl FaultyProxy {
    /// Forwards to `upstream` (host:port); each connection is cut once the
    /// server has sent `cut_after` bytes (None = never).
    pub fn start(upstream: &str, cut_after: Option<usize>) -> FaultyProxy {
        Self::start_with_delay(upstream, cut_after, 0)
    }

    /// Like `start`, and also waits `delay_ms` before passing on each chunk
    /// from the server (a slow network), so a sync lasts long enough to be killed.
    pub fn start_with_delay(
        upstream: &str,
        cut_after: Option<usize>,
        delay_ms: u64,
    ) -> FaultyProxy {
        Self::start_on(0, upstream, cut_after, delay_ms)
    }

    /// Like `start_with_delay` on a chosen port (0 = any), so a client configured
    /// earlier with that port finds the "server back up".
    pub fn start_on(
        port: u16,
        upstream: &str,
        cut_after: Option<usize>,
        delay_ms: u64,
    ) -> FaultyProxy {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let upstream = upstream.to_string();
        thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let server = TcpStream::connect(&upstream).unwrap();
                        pipe(client, server, cut_after, delay_ms);
                    }
                    Err(_) => thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        FaultyProxy { port, stop }
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn pipe(client: TcpStream, server: TcpStream, cut_after: Option<usize>, delay_ms: u64) {
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = c_read.read(&mut buf) {
            if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = s_write.shutdown(Shutdown::Both);
    });
    let (mut s_read, mut c_write) = (server, client);
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut sent = 0usize;
        while let Ok(n) = s_read.read(&mut buf) {
            if n == 0 {
                break;
            }
            if delay_ms > 0 {
                thread::sleep(std::time::Duration::from_millis(delay_ms));
            }
            let n = match cut_after {
                Some(limit) if sent + n >= limit => {
                    let _ = c_write.write_all(&buf[..limit.saturating_sub(sent)]);
                    break;
                }
                _ => n,
            };
            if c_write.write_all(&buf[..n]).is_err() {
                break;
            }
            sent += n;
        }
        let _ = c_write.shutdown(Shutdown::Both);
        let _ = s_read.shutdown(Shutdown::Both);
    });
}
