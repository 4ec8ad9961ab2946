//! Sentence templates in the style of Home Assistant's hassil, parsed and
//! expanded: `[optional words]`, `(one|or another)`, `{slot}`. Words are
//! normalised as the recogniser's words are ([`super::intents::normalize`]).

use super::intents::{normalize, MAX_VARIANTS};

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Word(String),
    Slot(String),
    Opt(Vec<Node>),
    Alt(Vec<Vec<Node>>),
}

/// A piece of an expanded sentence.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Piece {
    Word(String),
    Slot(String),
}

pub(super) fn parse(s: &str) -> Result<Vec<Node>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut pos = 0;
    let nodes = parse_seq(&chars, &mut pos, None)?;
    if pos != chars.len() {
        return Err(format!("unexpected '{}'", chars[pos]));
    }
    Ok(nodes)
}

/// A sequence up to `end` (or the end of input); `|` splits alternatives in `(…)`.
fn parse_seq(c: &[char], pos: &mut usize, end: Option<char>) -> Result<Vec<Node>, String> {
    let mut alts: Vec<Vec<Node>> = vec![Vec::new()];
    let mut word = String::new();
    let flush = |word: &mut String, alts: &mut Vec<Vec<Node>>| {
        for w in normalize(word) {
            if let Some(last) = alts.last_mut() {
                last.push(Node::Word(w));
            }
        }
        word.clear();
    };
    while *pos < c.len() {
        let ch = c[*pos];
        match ch {
            '[' | '(' => {
                flush(&mut word, &mut alts);
                *pos += 1;
                let close = if ch == '[' { ']' } else { ')' };
                let inner = parse_seq(c, pos, Some(close))?;
                let node = match (ch, inner.as_slice()) {
                    ('[', [Node::Alt(a)]) => Node::Opt(vec![Node::Alt(a.clone())]),
                    ('[', _) => Node::Opt(inner),
                    (_, [alt @ Node::Alt(_)]) => alt.clone(),
                    _ => Node::Alt(vec![inner]),
                };
                if let Some(last) = alts.last_mut() {
                    last.push(node);
                }
            }
            ']' | ')' => {
                if end != Some(ch) {
                    return Err(format!("unmatched '{ch}'"));
                }
                flush(&mut word, &mut alts);
                *pos += 1;
                return Ok(wrap(alts));
            }
            '|' => {
                if end.is_none() {
                    return Err("'|' outside brackets".into());
                }
                flush(&mut word, &mut alts);
                alts.push(Vec::new());
                *pos += 1;
            }
            '{' => {
                flush(&mut word, &mut alts);
                let close = c[*pos..]
                    .iter()
                    .position(|&x| x == '}')
                    .ok_or("unclosed '{'")?;
                let name: String = c[*pos + 1..*pos + close].iter().collect();
                if name.is_empty() || !name.chars().all(|x| x.is_ascii_alphanumeric() || x == '_') {
                    return Err(format!("bad slot name {{{name}}}"));
                }
                if let Some(last) = alts.last_mut() {
                    last.push(Node::Slot(name));
                }
                *pos += close + 1;
            }
            _ => {
                word.push(ch);
                *pos += 1;
            }
        }
    }
    if let Some(e) = end {
        return Err(format!("missing '{e}'"));
    }
    flush(&mut word, &mut alts);
    Ok(wrap(alts))
}

fn wrap(mut alts: Vec<Vec<Node>>) -> Vec<Node> {
    if alts.len() == 1 {
        alts.pop().unwrap_or_default()
    } else {
        vec![Node::Alt(alts)]
    }
}

pub(super) fn expand(nodes: &[Node]) -> Vec<Vec<Piece>> {
    let mut out: Vec<Vec<Piece>> = vec![Vec::new()];
    for n in nodes {
        let options: Vec<Vec<Piece>> = match n {
            Node::Word(w) => vec![vec![Piece::Word(w.clone())]],
            Node::Slot(s) => vec![vec![Piece::Slot(s.clone())]],
            Node::Opt(inner) => {
                let mut o = expand(inner);
                o.push(Vec::new());
                o
            }
            Node::Alt(alts) => alts.iter().flat_map(|a| expand(a)).collect(),
        };
        let mut next = Vec::with_capacity(out.len() * options.len());
        for prefix in &out {
            for o in &options {
                let mut v = prefix.clone();
                v.extend(o.iter().cloned());
                next.push(v);
            }
            if next.len() > MAX_VARIANTS * 4 {
                break;
            }
        }
        out = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_their_options_and_alternatives() {
        let v = expand(&parse("who (is|are) [very] late").unwrap());
        assert_eq!(v.len(), 4);
        assert!(parse("oops (a|b").is_err());
        assert!(parse("x ]").is_err());
        assert!(parse("{bad name}").is_err());
    }
}
