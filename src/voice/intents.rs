//! What a sentence asks for: sentence templates in the style of Home
//! Assistant's hassil (`[optional]`, `(one|other)`, `{slot}`), read from a data
//! file per language (`en.toml`), matched against what the recogniser heard
//! with tolerance for small errors: words are aligned by edit distance, and
//! a word that sounds nearly right ("reviewed" for "review") costs little.
//! Below [`THRESHOLD`] the answer is "not understood" plus the closest command.

use super::numbers::words_to_digits;
use super::VoiceError;
use crate::inference::guide::{Pattern, Sentences};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

/// How close (0..1) an utterance must come to a sentence to be understood.
pub const THRESHOLD: f32 = 0.72;
/// Sentences one template may expand to (a guard against a runaway template).
const MAX_VARIANTS: usize = 512;
/// The longest slot value, in words.
const MAX_SLOT_WORDS: usize = 4;
/// Words the recogniser's guide lets a speaker put before a command (as [`extra_word_cost`] forgives them).
const LEAD_FILLERS: [&str; 7] = ["please", "hey", "ok", "okay", "so", "um", "box"];
/// ... and after it.
const TAIL_FILLERS: [&str; 2] = ["please", "now"];

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Word(String),
    Slot(String),
    Opt(Vec<Node>),
    Alt(Vec<Vec<Node>>),
}

/// How an alignment cell was reached: the previous cell and a slot value.
type Step = (usize, usize, Option<String>);

/// A piece of an expanded sentence.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Word(String),
    Slot(String),
}

#[derive(Debug, Deserialize)]
struct File {
    language: String,
    #[serde(default)]
    lists: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    intents: Vec<IntentFile>,
}

#[derive(Debug, Deserialize)]
struct IntentFile {
    name: String,
    sentences: Vec<String>,
}

/// One value a list slot can take, and the ways to say it.
#[derive(Debug, Clone)]
struct ListValue {
    value: String,
    phrases: Vec<Vec<String>>,
}

/// The commands of one language.
#[derive(Debug, Clone)]
pub struct Grammar {
    pub language: String,
    /// (intent, sentence as written, its expansions)
    sentences: Vec<(String, String, Vec<Vec<Piece>>)>,
    /// Each sentence's template, parsed (same order as `sentences`).
    templates: Vec<Vec<Node>>,
    lists: HashMap<String, Vec<ListValue>>,
    /// The sentences as the recogniser's guide, compiled on first use (reset when a list changes).
    guide: OnceLock<Arc<Sentences>>,
}

/// What was understood.
#[derive(Debug, Clone, PartialEq)]
pub struct Understood {
    pub intent: String,
    /// Slot values: a number's digits, a list's canonical value.
    pub slots: BTreeMap<String, String>,
    /// 0..1: how close the utterance came to `sentence`.
    pub score: f32,
    /// The template that matched best, as written in the data file.
    pub sentence: String,
}

/// Lower case words, punctuation dropped, numbers in words made digits.
pub fn normalize(text: &str) -> Vec<String> {
    let words: Vec<String> = text
        .to_lowercase()
        .replace(['-', '#'], " ")
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_string())
        .filter(|w| !w.is_empty())
        .collect();
    words_to_digits(&words)
}

impl Grammar {
    /// The built-in English commands.
    pub fn english() -> Result<Grammar, VoiceError> {
        Grammar::from_toml(include_str!("en.toml"))
    }

    pub fn from_toml(text: &str) -> Result<Grammar, VoiceError> {
        let file: File = toml::from_str(text).map_err(|e| VoiceError::Grammar(e.to_string()))?;
        let mut sentences = Vec::new();
        let mut templates = Vec::new();
        for intent in &file.intents {
            for s in &intent.sentences {
                let nodes = parse(s).map_err(|e| {
                    VoiceError::Grammar(format!("intent {}: \"{s}\": {e}", intent.name))
                })?;
                let variants = expand(&nodes);
                if variants.len() > MAX_VARIANTS {
                    return Err(VoiceError::Grammar(format!(
                        "intent {}: \"{s}\" expands to {} sentences (at most {MAX_VARIANTS})",
                        intent.name,
                        variants.len()
                    )));
                }
                sentences.push((intent.name.clone(), s.clone(), variants));
                templates.push(nodes);
            }
        }
        let mut lists = HashMap::new();
        for (name, values) in &file.lists {
            let values = values
                .iter()
                .map(|(value, phrases)| ListValue {
                    value: value.clone(),
                    phrases: phrases.iter().map(|p| normalize(p)).collect(),
                })
                .collect();
            lists.insert(name.clone(), values);
        }
        Ok(Grammar {
            language: file.language,
            sentences,
            templates,
            lists,
            guide: OnceLock::new(),
        })
    }

    /// Sets a list slot's values (e.g. `reviewer` from the store): (value, ways to say it).
    pub fn set_list(&mut self, name: &str, values: Vec<(String, Vec<String>)>) {
        let values = values
            .into_iter()
            .map(|(value, phrases)| ListValue {
                value,
                phrases: phrases.iter().map(|p| normalize(p)).collect(),
            })
            .collect();
        self.lists.insert(name.to_string(), values);
        self.guide = OnceLock::new();
    }

    /// Every sentence the grammar can say (slots filled from their lists, numbers as digits or words, the
    /// usual filler words around): what guides the recogniser's search.
    pub fn guide(&self) -> Arc<Sentences> {
        self.guide
            .get_or_init(|| {
                let fillers = |words: &[&str]| {
                    Pattern::Opt(Box::new(Pattern::Alt(
                        words.iter().map(|w| Pattern::Word(w.to_string())).collect(),
                    )))
                };
                let sentences: Vec<Pattern> = self
                    .templates
                    .iter()
                    .map(|nodes| {
                        Pattern::Seq(vec![
                            fillers(&LEAD_FILLERS),
                            self.pattern(nodes),
                            fillers(&TAIL_FILLERS),
                        ])
                    })
                    .collect();
                Arc::new(sentences)
            })
            .clone()
    }

    fn pattern(&self, nodes: &[Node]) -> Pattern {
        Pattern::Seq(
            nodes
                .iter()
                .map(|n| match n {
                    Node::Word(w) => Pattern::Word(w.clone()),
                    Node::Slot(name) if name == "number" => Pattern::Number,
                    Node::Slot(name) => Pattern::Alt(
                        self.lists
                            .get(name)
                            .into_iter()
                            .flatten()
                            .flat_map(|v| &v.phrases)
                            .map(|p| Pattern::Word(p.join(" ")))
                            .collect(),
                    ),
                    Node::Opt(inner) => Pattern::Opt(Box::new(self.pattern(inner))),
                    Node::Alt(alts) => Pattern::Alt(alts.iter().map(|a| self.pattern(a)).collect()),
                })
                .collect(),
        )
    }

    /// The intents, in the order of the data file.
    pub fn intents(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (i, _, _) in &self.sentences {
            if !out.contains(&i.as_str()) {
                out.push(i);
            }
        }
        out
    }

    /// The best match for `text`: `Ok` when it clears [`THRESHOLD`], else
    /// `Err` with the closest command (if any sentence came near at all).
    pub fn understand(&self, text: &str) -> Result<Understood, Option<Understood>> {
        let heard = normalize(text);
        if heard.is_empty() {
            return Err(None);
        }
        let mut best: Option<Understood> = None;
        for (intent, written, variants) in &self.sentences {
            for v in variants {
                let Some((cost, slots)) = self.align(&heard, v) else {
                    continue;
                };
                let size = heard.len().max(v.len()) as f32;
                let score = (1.0 - cost / size).max(0.0);
                if best.as_ref().is_none_or(|b| score > b.score) {
                    best = Some(Understood {
                        intent: intent.clone(),
                        slots,
                        score,
                        sentence: written.clone(),
                    });
                }
            }
        }
        match best {
            Some(b) if b.score >= THRESHOLD => Ok(b),
            other => Err(other),
        }
    }

    /// Edit-distance alignment of the heard words with one sentence: the cost
    /// and the slot values, or None if a slot cannot be filled.
    fn align(
        &self,
        heard: &[String],
        sentence: &[Piece],
    ) -> Option<(f32, BTreeMap<String, String>)> {
        let (n, m) = (heard.len(), sentence.len());
        const INF: f32 = f32::INFINITY;
        // cost[i][j]: heard[..i] against sentence[..j]; back: how it was reached.
        let mut cost = vec![vec![INF; m + 1]; n + 1];
        let mut back: Vec<Vec<Option<Step>>> = vec![vec![None; m + 1]; n + 1];
        cost[0][0] = 0.0;
        for i in 0..=n {
            for j in 0..=m {
                let c = cost[i][j];
                if c == INF {
                    continue;
                }
                let mut relax = |ni: usize,
                                 nj: usize,
                                 add: f32,
                                 value: Option<String>,
                                 cost: &mut Vec<Vec<f32>>| {
                    if c + add < cost[ni][nj] {
                        cost[ni][nj] = c + add;
                        back[ni][nj] = Some((i, j, value));
                    }
                };
                // A heard word that is not in the sentence.
                if i < n {
                    relax(i + 1, j, extra_word_cost(&heard[i]), None, &mut cost);
                }
                if j < m {
                    match &sentence[j] {
                        Piece::Word(w) => {
                            // A sentence word not heard.
                            relax(i, j + 1, 1.0, None, &mut cost);
                            if i < n {
                                relax(
                                    i + 1,
                                    j + 1,
                                    1.0 - similarity(&heard[i], w),
                                    None,
                                    &mut cost,
                                );
                            }
                            // One word heard as two ("over due"), or two as one.
                            if i + 1 < n {
                                let joined = format!("{}{}", heard[i], heard[i + 1]);
                                let c = 1.1 - similarity(&joined, w);
                                relax(i + 2, j + 1, c, None, &mut cost);
                            }
                            if let (true, Some(Piece::Word(next))) = (i < n, sentence.get(j + 1)) {
                                let joined = format!("{w}{next}");
                                let c = 1.1 - similarity(&heard[i], &joined);
                                relax(i + 1, j + 2, c, None, &mut cost);
                            }
                        }
                        Piece::Slot(name) => {
                            // A slot not said at all (the answer asks for it).
                            relax(i, j + 1, 1.0, None, &mut cost);
                            for len in 1..=MAX_SLOT_WORDS.min(n - i) {
                                if let Some((value, miss)) =
                                    self.slot_value(name, &heard[i..i + len])
                                {
                                    relax(i + len, j + 1, miss, Some(value), &mut cost);
                                }
                            }
                        }
                    }
                }
            }
        }
        if cost[n][m] == INF {
            return None;
        }
        let mut slots = BTreeMap::new();
        let (mut i, mut j) = (n, m);
        while let Some((pi, pj, value)) = back[i][j].clone() {
            if let (Some(v), Some(Piece::Slot(name))) = (value, sentence.get(pj)) {
                if pj + 1 == j {
                    slots.insert(name.clone(), v);
                }
            }
            i = pi;
            j = pj;
        }
        Some((cost[n][m], slots))
    }

    /// The value of slot `name` said as `words`, and what the mismatch costs.
    fn slot_value(&self, name: &str, words: &[String]) -> Option<(String, f32)> {
        if name == "number" {
            return match words {
                [w] if w.chars().all(|c| c.is_ascii_digit()) && w.len() <= 9 => {
                    Some((w.clone(), 0.0))
                }
                _ => None,
            };
        }
        let values = self.lists.get(name)?;
        let mut best: Option<(String, f32)> = None;
        for v in values {
            for p in &v.phrases {
                if p.len() != words.len() {
                    continue;
                }
                let miss: f32 = p
                    .iter()
                    .zip(words)
                    .map(|(a, b)| 1.0 - similarity(a, b))
                    .sum();
                // A value is never guessed from a word that sounds nothing like it.
                if miss > 0.35 * p.len() as f32 {
                    continue;
                }
                if best.as_ref().is_none_or(|(_, m)| miss < *m) {
                    best = Some((v.value.clone(), miss));
                }
            }
        }
        best
    }
}

/// Filler words cost less when heard but not in the sentence.
fn extra_word_cost(w: &str) -> f32 {
    match w {
        "please" | "the" | "a" | "an" | "um" | "uh" | "so" | "now" | "ok" | "okay" | "hey"
        | "box" | "ojscog" => 0.3,
        _ => 1.0,
    }
}

/// 0..1: how alike two words are (1 - normalised character edit distance).
pub fn similarity(a: &str, b: &str) -> f32 {
    if a == b {
        return 1.0;
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    let d = prev[b.len()] as f32;
    let sim = 1.0 - d / a.len().max(b.len()) as f32;
    // Short words must match nearly exactly ("ten" is not "then").
    if a.len().min(b.len()) <= 3 && d > 0.0 {
        sim * 0.5
    } else {
        sim
    }
}

// ---- templates --------------------------------------------------------------

fn parse(s: &str) -> Result<Vec<Node>, String> {
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

fn expand(nodes: &[Node]) -> Vec<Vec<Piece>> {
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

    fn g() -> Grammar {
        let mut g = Grammar::english().expect("the English grammar parses");
        g.set_list(
            "reviewer",
            vec![(
                "104".into(),
                vec!["Daniel Whitfield".into(), "Whitfield".into()],
            )],
        );
        g
    }

    fn intent(text: &str) -> (String, BTreeMap<String, String>) {
        let u = g()
            .understand(text)
            .unwrap_or_else(|c| panic!("not understood: {text} (closest {c:?})"));
        (u.intent, u.slots)
    }

    #[test]
    fn templates_expand_their_options_and_alternatives() {
        let v = expand(&parse("who (is|are) [very] late").unwrap());
        assert_eq!(v.len(), 4);
        assert!(parse("oops (a|b").is_err());
        assert!(parse("x ]").is_err());
        assert!(parse("{bad name}").is_err());
    }

    #[test]
    fn the_commands_are_understood_with_their_slots() {
        assert_eq!(intent("What is overdue?").0, "overdue");
        let (i, s) = intent("Who should review submission twelve?");
        assert_eq!(i, "suggest_reviewers");
        assert_eq!(s["number"], "12");
        let (i, s) = intent("summarise paper number one hundred and five");
        assert_eq!((i.as_str(), s["number"].as_str()), ("summarize", "105"));
        let (i, s) = intent("how many submissions are in review");
        assert_eq!(
            (i.as_str(), s["stage"].as_str()),
            ("waiting_by_stage", "review")
        );
        assert_eq!(intent("please start a sync now").0, "start_sync");
        assert_eq!(intent("say that again").0, "repeat");
        assert_eq!(intent("what can I say").0, "help");
        let (i, s) = intent("assign Daniel Whitfield to submission 6");
        assert_eq!(
            (i.as_str(), s["reviewer"].as_str(), s["number"].as_str()),
            ("decision", "104", "6")
        );
    }

    #[test]
    fn small_recognition_errors_are_tolerated() {
        // What a recogniser makes of it: a word off, a filler word more.
        assert_eq!(
            intent("who should reviewed submission 12").0,
            "suggest_reviewers"
        );
        assert_eq!(intent("um what is over due").0, "overdue");
        assert_eq!(
            intent("how many submission are waiting").0,
            "waiting_by_stage"
        );
    }

    #[test]
    fn nonsense_is_not_understood_and_the_closest_command_is_named() {
        let g = g();
        let e = g.understand("make me a sandwich with pickles").unwrap_err();
        assert!(e.is_none_or(|c| c.score < THRESHOLD));
        assert_eq!(g.understand("").unwrap_err(), None);
        assert_eq!(g.understand("   ...  ").unwrap_err(), None);
        // Near a command but not near enough: its name comes back as the closest.
        let near = g
            .understand("who should submission")
            .unwrap_err()
            .expect("a closest command");
        assert_eq!(near.intent, "suggest_reviewers");
    }

    #[test]
    fn a_slot_needs_a_value_that_sounds_like_one() {
        assert!(g()
            .understand("who should review submission banana")
            .is_err());
    }

    #[test]
    fn word_similarity_is_strict_for_short_words() {
        assert_eq!(similarity("review", "review"), 1.0);
        assert!(similarity("reviewed", "review") > 0.7);
        assert!(similarity("ten", "then") < 0.5);
    }
}
