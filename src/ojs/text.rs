//! Turning OJS setting values (HTML abstracts, per-locale rows) into plain text.

/// Plain text from the HTML OJS stores in abstracts: tags dropped, block ends
/// become spaces, common entities decoded, white space folded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut chars = html.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => {
                // Skip to the end of the tag; a stray '<' without '>' is kept as text.
                let mut tag = String::new();
                let mut closed = false;
                for t in chars.by_ref() {
                    if t == '>' {
                        closed = true;
                        break;
                    }
                    tag.push(t);
                }
                if !closed {
                    out.push('<');
                    out.push_str(&tag);
                } else {
                    out.push(' ');
                }
            }
            '&' => {
                let mut ent = String::new();
                while let Some(&n) = chars.peek() {
                    if n == ';' || ent.len() > 8 || n.is_whitespace() || n == '&' {
                        break;
                    }
                    ent.push(n);
                    chars.next();
                }
                let decoded = if chars.peek() == Some(&';') {
                    decode_entity(&ent)
                } else {
                    None
                };
                match decoded {
                    Some(d) => {
                        chars.next();
                        out.push(d);
                    }
                    None => {
                        out.push('&');
                        out.push_str(&ent);
                    }
                }
            }
            _ => out.push(c),
        }
    }
    fold_whitespace(&out)
}

fn decode_entity(e: &str) -> Option<char> {
    Some(match e {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" | "#39" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        _ => {
            let num = e.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)?
        }
    })
}

pub fn fold_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Picks the value for the best locale: the preferred ones in order, then the
/// first non-empty value in locale order. Values are `(locale, value)`.
pub fn pick_locale<'a>(values: &'a [(String, String)], preferred: &[&str]) -> &'a str {
    for p in preferred {
        if let Some((_, v)) = values.iter().find(|(l, v)| l == p && !v.trim().is_empty()) {
            return v;
        }
    }
    // Non-localized ('') values and then any locale.
    let mut best: Option<&(String, String)> = None;
    for lv in values.iter().filter(|(_, v)| !v.trim().is_empty()) {
        if best.is_none_or(|b| lv.0 < b.0) {
            best = Some(lv);
        }
    }
    best.map_or("", |(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_and_entities() {
        assert_eq!(
            html_to_text("<p>Pigs &amp; cows</p><p>are&nbsp;<b>animals</b> &#8212; 5 &lt; 6</p>"),
            "Pigs & cows are animals — 5 < 6"
        );
        assert_eq!(html_to_text("a < b & c"), "a < b & c");
        assert_eq!(html_to_text("R&D; x"), "R&D; x");
    }

    #[test]
    fn picks_locale() {
        let v = vec![
            ("fr_CA".to_string(), "Bonjour".to_string()),
            ("en".to_string(), "".to_string()),
            ("de".to_string(), "Hallo".to_string()),
        ];
        assert_eq!(pick_locale(&v, &["fr_CA"]), "Bonjour");
        assert_eq!(
            pick_locale(&v, &["en"]),
            "Hallo",
            "empty values are skipped"
        );
        assert_eq!(pick_locale(&[], &["en"]), "");
    }
}
