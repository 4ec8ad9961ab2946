//! Sign-in and sign-out pages: a form that takes the read or admin token,
//! the sign-in link (`/signin?token=…`, what `serve --demo` prints), and the
//! session cookie they set. The pages are plain HTML; no script.

use super::auth::{self, Gate, Role};
use super::format::escape;
use super::{http, Reply, Req, HTML};
use crate::context::AppContext;
use std::fmt::Write as _;

/// The CSP of these pages: nothing external, forms only to this box.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `GET /signin[?token=…][&next=…]`
pub(crate) fn show(ctx: &AppContext, gate: &Gate, req: &Req, role: Role, now: i64) -> Reply {
    let (token, next) = match token_and_next(&req.query) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match token {
        Some(token) => sign_in_with(ctx, gate, req, &token, &next, now, false),
        None if role > Role::Anonymous => page(
            200,
            &format!(
                "<p>You are signed in ({}). <a href=\"{}\">Continue</a></p>{}",
                role.as_str(),
                escape(&next),
                SIGN_OUT_FORM
            ),
        ),
        None => form(200, &next, None),
    }
}

/// `POST /signin` with the form `token=…&next=…`.
pub(crate) fn submit(ctx: &AppContext, gate: &Gate, req: &Req, now: i64) -> Reply {
    let body = String::from_utf8_lossy(&req.body);
    match token_and_next(body.trim()) {
        Ok((token, next)) => {
            sign_in_with(ctx, gate, req, &token.unwrap_or_default(), &next, now, true)
        }
        Err(r) => r,
    }
}

/// `token` and a safe `next` from a query string or a urlencoded form.
fn token_and_next(encoded: &str) -> Result<(Option<String>, String), Reply> {
    let params = http::parse_query(encoded).map_err(|m| Reply::error(400, m))?;
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    Ok((get("token").map(str::to_string), safe_next(get("next"))))
}

/// `POST /signout`: ends the session and clears the cookie.
pub(crate) fn sign_out(ctx: &AppContext, gate: &Gate, req: &Req) -> Reply {
    gate.end_session(ctx, req);
    Reply::new(303, HTML, "")
        .with_header("Location", "/signin")
        .with_header("Set-Cookie", auth::clear_cookie())
}

fn sign_in_with(
    ctx: &AppContext,
    gate: &Gate,
    req: &Req,
    token: &str,
    next: &str,
    now: i64,
    from_form: bool,
) -> Reply {
    if let Err(r) = gate.failures.check(req.peer) {
        return r;
    }
    let Some(role) = gate.role_of_token(token.trim()) else {
        gate.failed(req.peer, "a wrong token on the sign-in page");
        return form(401, next, Some("That token is not right. Try again."));
    };
    gate.failures.succeeded(req.peer);
    let cookie = match gate.start_session(ctx, role, req.peer, now) {
        Ok(c) => c,
        Err(r) => return r,
    };
    tracing::info!(client = %req.peer, role = role.as_str(), "signed in");
    if from_form {
        return Reply::new(303, HTML, "")
            .with_header("Location", next.to_string())
            .with_header("Set-Cookie", cookie);
    }
    // From a link: a page of ours moves on, so that the next request is a
    // same-site navigation that carries the SameSite=Strict cookie, and the
    // token leaves the address bar.
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={next}\"><title>Signed in · ojscog</title>\
         <style>{STYLE}</style></head><body><main><h1>Signed in</h1>\
         <p><a href=\"{next}\">Continue</a></p></main></body></html>\n",
        next = escape(next)
    );
    Reply::new(200, HTML, body)
        .with_header("Set-Cookie", cookie)
        .with_header("Content-Security-Policy", CSP)
}

/// `next` if it is a path on this box, else `/`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && n.len() <= 2000 =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

const SIGN_OUT_FORM: &str =
    "<form method=\"post\" action=\"/signout\"><button type=\"submit\">Sign out</button></form>";

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;background:#f4f6f8;color:#1d2733;margin:0}\
main{max-width:26rem;margin:12vh auto;background:#fff;padding:2rem;border-radius:10px;\
box-shadow:0 1px 3px rgba(0,0,0,.12)}h1{font-size:1.3rem;margin:0 0 1rem}\
label{display:block;font-weight:600;margin-bottom:.3rem}\
input[type=password]{width:100%;box-sizing:border-box;padding:.55rem;font:inherit;border:1px solid #b8c2cc;border-radius:6px}\
button{margin-top:1rem;padding:.5rem 1.2rem;font:inherit;border:0;border-radius:6px;background:#1f5f99;color:#fff;cursor:pointer}\
.err{color:#a12b2b;font-weight:600}.note{color:#5b6875;font-size:.9rem}";

fn form(status: u16, next: &str, error: Option<&str>) -> Reply {
    let mut h = String::new();
    if let Some(e) = error {
        let _ = write!(h, "<p class=\"err\" id=\"signin-error\">{}</p>", escape(e));
    }
    let _ = write!(
        h,
        "<form method=\"post\" action=\"/signin\"><label for=\"token\">Access token</label>\
         <input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"current-password\" required autofocus>\
         <input type=\"hidden\" name=\"next\" value=\"{}\"><button type=\"submit\">Sign in</button></form>\
         <p class=\"note\">The box's read token (or the admin token) was shown on its console at first boot; \
         the person who looks after the box has it.</p>",
        escape(next)
    );
    page(status, &h)
}

fn page(status: u16, inner: &str) -> Reply {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign in · ojscog</title><link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head>\
         <body><main><h1>ojscog · sign in</h1>{inner}</main></body></html>\n"
    );
    Reply::new(status, HTML, body).with_header("Content-Security-Policy", CSP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_a_path_on_this_box() {
        assert_eq!(safe_next(Some("/api/sync?x=1")), "/api/sync?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(Some("/a\r\nSet-Cookie: x")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
