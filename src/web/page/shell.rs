//! What every page shares: the document head, the header (journal, the
//! navigation, the search box, who is signed in), the footer, the
//! Content-Security-Policy, and error pages.
//!
//! Pages are plain HTML forms and links: no script runs (the CSP forbids it),
//! so every page works with JavaScript off and with a keyboard alone.

use super::super::auth::Role;
use super::super::format::{self, escape};
use super::super::{Reply, HTML};
use crate::context::AppContext;
use crate::health::Level;
use std::fmt::Write as _;

/// No scripts, no external anything; forms post only to this box.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Status,
    Submissions,
    Reviewers,
    Search,
    None,
}

/// A page's frame.
pub(crate) struct Shell<'a> {
    pub title: &'a str,
    pub journal: &'a str,
    pub role: Role,
    pub nav: Nav,
    /// Reload the page every this many seconds (the status page; a report
    /// being made).
    pub refresh: Option<u32>,
    /// What the search box shows (the search page's query).
    pub query: &'a str,
    /// The overall status pill (the status page only).
    pub overall: Option<Level>,
    pub now: i64,
}

impl<'a> Shell<'a> {
    /// A page with no reload, an empty search box and no status pill.
    pub fn new(title: &'a str, journal: &'a str, role: Role, nav: Nav, now: i64) -> Shell<'a> {
        Shell {
            title,
            journal,
            role,
            nav,
            refresh: None,
            query: "",
            overall: None,
            now,
        }
    }
}

/// The journal's name for the header: the first mirrored journal's.
pub(crate) fn journal_name(ctx: &AppContext) -> String {
    ctx.open_store()
        .ok()
        .and_then(|s| s.journal_names().ok())
        .and_then(|n| n.into_iter().next())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "Editorial office".into())
}

/// Writes the head, the header and opens `<main>`.
pub(crate) fn open(h: &mut String, s: &Shell) {
    let refresh = s
        .refresh
        .map(|n| format!("<meta http-equiv=\"refresh\" content=\"{n}\">\n"))
        .unwrap_or_default();
    let _ = write!(
        h,
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
{refresh}<title>{title} · ojscog</title>
<link rel="icon" href="data:,">
<style>{css}</style>
</head>
<body>
<a class="skip" href="#content">Skip to content</a>
<header class="top"><div class="wrap top-row">
<div><div class="brand">ojscog · editorial office</div><p class="journal" id="journal"><a href="/">{journal}</a></p></div>
<div class="top-right">{overall}<div class="updated">Updated {time}</div>{session}</div>
</div>
<div class="wrap nav-row"><nav aria-label="Main">{nav}</nav>
<form class="search-box" method="get" action="/search" role="search"><label for="q" class="sr-only">Search submissions and reviewers</label><input id="q" name="q" type="search" maxlength="500" placeholder="Search submissions and reviewers" value="{query}"><button type="submit">Search</button></form></div>
</header>
"##,
        title = escape(s.title),
        css = super::CSS,
        journal = escape(s.journal),
        overall = s.overall.map(overall_pill).unwrap_or_default(),
        time = format::utc_time(s.now),
        session = session_box(s.role),
        nav = nav_links(s.nav),
        query = escape(s.query),
    );
    h.push_str("<main class=\"wrap\" id=\"content\">\n");
}

/// Closes `<main>` and writes the footer.
pub(crate) fn close(h: &mut String, now: i64) {
    let _ = write!(
        h,
        r#"</main>
<footer class="wrap">ojscog {version} · page made {time} · <a href="/health">health</a> · <a href="/metrics">metrics</a> · <a href="/api/submissions">submissions API</a> · <a href="/api/reviewers">reviewers API</a> · <a href="/api/sync">sync API</a></footer>
</body>
</html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        time = format::utc(now),
    );
}

/// A finished page as a reply, with the CSP.
pub(crate) fn reply(status: u16, html: String) -> Reply {
    Reply::new(status, HTML, html).with_header("Content-Security-Policy", CSP)
}

fn overall_pill(level: Level) -> String {
    let label = match level {
        Level::Ok => "All systems normal",
        Level::Degraded => "Needs attention",
        Level::Down => "Not working",
    };
    format!(
        r#"<div class="overall {cls}" id="overall" data-status="{cls}"><span class="dot"></span>{label}</div>"#,
        cls = level.as_str()
    )
}

fn nav_links(current: Nav) -> String {
    let mut out = String::new();
    for (nav, href, label) in [
        (Nav::Status, "/", "Status"),
        (Nav::Submissions, "/submissions", "Submissions"),
        (Nav::Reviewers, "/reviewers", "Reviewers"),
    ] {
        let aria = if nav == current {
            r#" aria-current="page""#
        } else {
            ""
        };
        let _ = write!(out, r#"<a href="{href}"{aria}>{label}</a>"#);
    }
    out
}

/// Who is signed in, and the sign-out button (a POST form: no script needed).
fn session_box(role: Role) -> String {
    match role {
        Role::Anonymous => String::new(),
        r => format!(
            r#"<form class="session" method="post" action="/signout"><span id="signed-in-as">signed in ({})</span> <button type="submit">Sign out</button></form>"#,
            r.as_str()
        ),
    }
}

/// An error as a page: what happened, and a way back.
pub(crate) fn error_page(
    ctx: &AppContext,
    role: Role,
    status: u16,
    heading: &str,
    message: &str,
    back: (&str, &str),
) -> Reply {
    let now = crate::system::unix_now();
    let journal = journal_name(ctx);
    let mut h = String::with_capacity(8 * 1024);
    open(&mut h, &Shell::new(heading, &journal, role, Nav::None, now));
    let _ = writeln!(
        h,
        r#"<section class="card notice" id="error" data-status="{status}"><h1>{heading}</h1><p>{message}</p><p><a href="{href}">{label}</a></p></section>"#,
        heading = escape(heading),
        message = escape(message),
        href = escape(back.0),
        label = escape(back.1),
    );
    close(&mut h, now);
    reply(status, h)
}
