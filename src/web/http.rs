//! Small pieces of HTTP: request targets, query strings, bearer tokens.

/// Splits a request target into (path, query). Accepts the absolute form
/// (`http://host/path`) that proxies send; drops one trailing slash.
pub(crate) fn split_target(target: &str) -> Result<(&str, &str), String> {
    let rest = match target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        Some(after_scheme) => match after_scheme.find('/') {
            Some(i) => &after_scheme[i..],
            None => "/",
        },
        None => target,
    };
    if !rest.starts_with('/') {
        return Err(format!(
            "the request target must be a path starting with /, not `{}`",
            truncate(target, 80)
        ));
    }
    let rest = rest.split('#').next().unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    };
    Ok((path, query))
}

/// Parses `a=1&b=x%20y` into decoded pairs, in order. Empty pieces are skipped.
pub(crate) fn parse_query(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        out.push((decode(k)?, decode(v)?));
    }
    Ok(out)
}

/// Percent-decoding with `+` as space, as in HTML forms.
pub(crate) fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => out.push(b),
                    None => {
                        return Err(format!(
                            "malformed percent-encoding in the query: `{}`",
                            truncate(s, 80)
                        ))
                    }
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "the query is not valid UTF-8".to_string())
}

/// Percent-encodes `s` for a query value (unreserved characters and `/` stay).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The token of an `Authorization: Bearer <token>` header value.
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Compares two secrets in time that depends only on their lengths (`subtle`).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

/// At most `max` characters of `s`, for error messages.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(split_target("/").unwrap(), ("/", ""));
        assert_eq!(split_target("/a/?x=1").unwrap(), ("/a", "x=1"));
        assert_eq!(split_target("/a?x=1#f").unwrap(), ("/a", "x=1"));
        assert_eq!(split_target("http://h:1/m?q").unwrap(), ("/m", "q"));
        assert_eq!(split_target("http://h:1").unwrap(), ("/", ""));
        assert!(split_target("*").is_err());
        assert!(split_target("").is_err());
    }

    #[test]
    fn queries() {
        assert_eq!(
            parse_query("status=queued&&stage=review+x&limit=%35").unwrap(),
            vec![
                ("status".into(), "queued".into()),
                ("stage".into(), "review x".into()),
                ("limit".into(), "5".into())
            ]
        );
        assert_eq!(
            parse_query("flag").unwrap(),
            vec![("flag".into(), "".into())]
        );
        assert!(parse_query("a=%zz").is_err());
        assert!(parse_query("a=%4").is_err());
        assert!(parse_query("a=%ff").is_err(), "not UTF-8");
        assert_eq!(decode("caf%C3%A9").unwrap(), "café");
        assert_eq!(encode("/a b?c=é"), "/a%20b%3Fc%3D%C3%A9");
        assert_eq!(decode(&encode("/x?y=1&z")).unwrap(), "/x?y=1&z");
    }

    #[test]
    fn tokens() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert!(constant_time_eq(b"0123456789abcdef", b"0123456789abcdef"));
        assert!(!constant_time_eq(b"0123456789abcdef", b"0123456789abcdeF"));
        assert!(!constant_time_eq(b"0123456789abcdef", b"0123456789abcde"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(!constant_time_eq(&[0u8; 256], b""));
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("ab", 3), "ab");
    }
}
