//! The socket under hyper, with read and write deadlines.
//!
//! A read that waits longer than the read timeout fails (`TimedOut`), so idle
//! keep-alive connections and clients that stop sending are cut off — except
//! while a handler is working on one of the connection's requests (a model
//! call may take longer than the read timeout, and hyper keeps a read pending
//! meanwhile). A write that cannot make progress for the write timeout fails too.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

pub(crate) struct GuardedIo {
    inner: TcpStream,
    read_timeout: Duration,
    write_timeout: Duration,
    read_deadline: Option<Pin<Box<Sleep>>>,
    write_deadline: Option<Pin<Box<Sleep>>>,
    busy: Busy,
}

/// Requests of one connection being handled; no read deadline while > 0.
#[derive(Clone, Default)]
pub(crate) struct Busy(Arc<AtomicUsize>);

/// Marks a request as being handled until dropped.
pub(crate) struct BusyGuard(Busy);

impl Busy {
    pub(crate) fn enter(&self) -> BusyGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        BusyGuard(self.clone())
    }

    pub(crate) fn active(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 0
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl GuardedIo {
    pub(crate) fn new(
        inner: TcpStream,
        read_timeout: Duration,
        write_timeout: Duration,
        busy: Busy,
    ) -> GuardedIo {
        GuardedIo {
            inner,
            read_timeout,
            write_timeout,
            read_deadline: None,
            write_deadline: None,
            busy,
        }
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

/// Polls `deadline` (made on first use); Ready(()) when it has passed.
fn expired(deadline: &mut Option<Pin<Box<Sleep>>>, after: Duration, cx: &mut Context<'_>) -> bool {
    let d = deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(after)));
    if d.as_mut().poll(cx).is_ready() {
        *deadline = None;
        true
    } else {
        false
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.read_deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending if this.busy.active() => {
                this.read_deadline = None;
                Poll::Pending
            }
            Poll::Pending => {
                if expired(&mut this.read_deadline, this.read_timeout, cx) {
                    Poll::Ready(Err(timed_out("reading from the client")))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                this.write_deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if expired(&mut this.write_deadline, this.write_timeout, cx) {
                    Poll::Ready(Err(timed_out("writing to the client")))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
