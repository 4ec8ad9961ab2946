//! What a failed sync may show on open routes: the error text without the
//! MySQL user, password, host or addresses (the full text goes to the log only).

use mysql_async::Opts;

/// An OJS error as the open routes (`/health`, `/api/sync`, the status page,
/// `/metrics`) and the store's `last_error` may show it: the MySQL user, its
/// password, the configured host and any network address are replaced, the
/// useful part ("Connection refused", "Access denied", the missing table) is
/// kept. `url` is the configured `ojs.url` (may be empty: then only the
/// patterns MySQL uses for users and hosts are replaced).
pub fn public_error_text(message: &str, url: &str) -> String {
    let mut out = message.to_string();
    // `'user'@'host'` in MySQL's own messages ("Access denied for user ...",
    // "SELECT command denied to user ...").
    while let Some(at) = out.find("'@'") {
        let start = out[..at].rfind('\'').unwrap_or(at);
        let end = out[at + 3..].find('\'').map(|e| at + 3 + e + 1);
        match end {
            Some(end) if start < at => out.replace_range(start..end, "<user>@<host>"),
            _ => out.replace_range(at..at + 3, "@"),
        }
    }
    // "Host '10.0.0.5' is not allowed to connect".
    while let Some(h) = out.find("Host '") {
        let from = h + "Host '".len();
        match out[from..].find('\'') {
            Some(e) => out.replace_range(h..from + e + 1, "Host <host>"),
            None => break,
        }
    }
    if let Ok(opts) = Opts::from_url(url) {
        let host = opts.ip_or_hostname().to_string();
        out = replace_word(&out, &format!("{host}:{}", opts.tcp_port()), "<host>");
        out = replace_word(&out, &format!("[{host}]:{}", opts.tcp_port()), "<host>");
        out = replace_word(&out, &host, "<host>");
        if let Some(pass) = opts.pass().filter(|p| !p.is_empty()) {
            out = out.replace(pass, "***");
        }
        if let Some(user) = opts.user().filter(|u| !u.is_empty()) {
            out = replace_word(&out, user, "<user>");
        }
    }
    replace_ipv4(&out)
}

/// Replaces `word` where it is not part of a longer name (letters, digits,
/// `.`, `-` and `_` on either side).
fn replace_word(text: &str, word: &str, with: &str) -> String {
    if word.is_empty() {
        return text.to_string();
    }
    let is_name = |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(word) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + word.len()..].chars().next();
        // A trailing dot ends a sentence, not a name.
        let after_is_name = match after {
            Some('.') => rest[i + word.len() + 1..]
                .chars()
                .next()
                .is_some_and(is_name),
            Some(c) => is_name(c),
            None => false,
        };
        out.push_str(&rest[..i]);
        if before.is_some_and(is_name) || after_is_name {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}

/// Dotted-quad IPv4 addresses become `<address>`.
fn replace_ipv4(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.');
        if boundary && b[i].is_ascii_digit() {
            // Four groups of 1-3 digits separated by dots.
            let mut j = i;
            let mut groups = 0;
            loop {
                let d = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
                if d == 0 || d > 3 {
                    break;
                }
                j += d;
                groups += 1;
                if groups == 4 || j >= b.len() || b[j] != b'.' {
                    break;
                }
                j += 1;
            }
            let ends = j >= b.len() || !(b[j].is_ascii_alphanumeric());
            if groups == 4 && ends {
                out.push_str(&text[copied..i]);
                out.push_str("<address>");
                copied = j;
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_error_text_drops_user_password_host_and_addresses() {
        let url = "mysql://editor:s3cret@db.journal.example:3306/ojs";
        let t = public_error_text(
            "cannot reach the OJS database at db.journal.example:3306: Server error: `ERROR 28000 (1045): Access denied for user 'editor'@'10.1.2.3' (using password: YES)'",
            url,
        );
        assert_eq!(
            t,
            "cannot reach the OJS database at <host>: Server error: `ERROR 28000 (1045): Access denied for user <user>@<host> (using password: YES)'"
        );
        let t = public_error_text("Host '192.168.1.20' is not allowed to connect", "");
        assert_eq!(t, "Host <host> is not allowed to connect");
        let t = public_error_text("editor could not log in to db.journal.example.", url);
        assert_eq!(t, "<user> could not log in to <host>.");
        let t = public_error_text("the password s3cret was refused", url);
        assert!(!t.contains("s3cret"), "{t}");
        // Names that merely contain the user or host are left alone.
        let t = public_error_text("missing editorial_decisions, db.journal.example.org", url);
        assert_eq!(t, "missing editorial_decisions, db.journal.example.org");
        let t = public_error_text(
            "at 127.0.0.1:9: Connection refused (os error 111); v1.2.3.4a",
            "",
        );
        assert_eq!(
            t,
            "at <address>:9: Connection refused (os error 111); v1.2.3.4a"
        );
    }
}
