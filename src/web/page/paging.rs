//! `?page=N` and the previous/next links of a long list.

use super::Page;
use std::fmt::Write as _;

/// Pages beyond this are refused (a list of 100 000 rows at 50 a page).
const MAX_PAGE: usize = 2_000;

/// The `page` parameter: 1 when absent.
pub(crate) fn page_number(p: &[(String, String)]) -> Result<usize, Page> {
    match p.iter().find(|(k, _)| k == "page") {
        None => Ok(1),
        Some((_, v)) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                Page::bad_request(format!("The page number must be from 1 to {MAX_PAGE}."))
            }),
    }
}

/// "Page 2 of 7 · ‹ previous · next ›". `base` ends with `?` or `&`.
pub(crate) fn links(h: &mut String, base: &str, page: usize, total: usize, per: usize) {
    let pages = total.div_ceil(per.max(1)).max(1);
    if pages <= 1 {
        return;
    }
    let _ = write!(
        h,
        r#"<nav class="pager" aria-label="Pages"><span>Page {page} of {pages}</span>"#
    );
    if page > 1 {
        let _ = write!(
            h,
            r#"<a href="{base}page={}" rel="prev">‹ Previous</a>"#,
            page - 1
        );
    }
    if page < pages {
        let _ = write!(
            h,
            r#"<a href="{base}page={}" rel="next">Next ›</a>"#,
            page + 1
        );
    }
    h.push_str("</nav>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_number_is_a_small_positive_number() {
        let p = |v: &str| vec![("page".to_string(), v.to_string())];
        assert_eq!(page_number(&[]).ok(), Some(1));
        assert_eq!(page_number(&p("3")).ok(), Some(3));
        for bad in ["0", "-1", "x", "2001", ""] {
            assert!(page_number(&p(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn links_appear_only_when_there_is_more_than_one_page() {
        let mut h = String::new();
        links(&mut h, "/x?", 1, 50, 50);
        assert!(h.is_empty());
        links(&mut h, "/x?", 2, 120, 50);
        assert!(h.contains("Page 2 of 3"), "{h}");
        assert!(h.contains(r#"href="/x?page=1""#) && h.contains(r#"href="/x?page=3""#));
    }
}
