//! Small pieces of HTTP: request targets, query strings, bearer tokens, a file in a `multipart/form-data` body.

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

/// The file of field `field` in a `multipart/form-data` body (RFC 7578): its file name and bytes. The body is already
/// bounded; this only walks it.
pub(crate) fn multipart_file<'a>(
    content_type: &str,
    body: &'a [u8],
    field: &str,
) -> Result<(String, &'a [u8]), String> {
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or("the form has no multipart boundary")?;
    let delimiter = format!("--{boundary}");
    let find = |hay: &[u8], needle: &[u8], from: usize| -> Option<usize> {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    let mut at = find(body, delimiter.as_bytes(), 0).ok_or("the form's body has no parts")?;
    loop {
        let start = at + delimiter.len();
        if body.get(start..start + 2) == Some(b"--") {
            break;
        }
        let head_start = start + 2; // CRLF after the delimiter
        let head_end =
            find(body, b"\r\n\r\n", head_start).ok_or("a form part has no end of headers")?;
        let head = String::from_utf8_lossy(body.get(head_start..head_end).unwrap_or_default());
        let content_start = head_end + 4;
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), content_start)
            .ok_or("a form part is not closed (was the upload cut?)")?;
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .unwrap_or_default();
        let param = |name: &str| -> Option<String> {
            disposition.split(';').skip(1).find_map(|p| {
                let (k, v) = p.trim().split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().trim_matches('"').to_string())
            })
        };
        if param("name").as_deref() == Some(field) {
            let name = param("filename").ok_or("the form's file field carries no file")?;
            return Ok((name, &body[content_start..next]));
        }
        at = next + 2;
    }
    Err(format!("the form has no `{field}` field"))
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

    #[test]
    fn a_file_is_taken_out_of_a_multipart_form() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fig 1.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--XY\r\n--XyZ--\r\n";
        let (name, bytes) =
            multipart_file("multipart/form-data; boundary=XyZ", body, "file").unwrap();
        assert_eq!(name, "fig 1.png");
        assert_eq!(bytes, b"\x89PNG\r\n--XY");
        assert!(multipart_file("multipart/form-data", body, "file").is_err());
        assert!(multipart_file("multipart/form-data; boundary=XyZ", body, "other").is_err());
        let cut = &body[..body.len() - 20];
        assert!(
            multipart_file("multipart/form-data; boundary=XyZ", cut, "file")
                .unwrap_err()
                .contains("not closed")
        );
    }
}
