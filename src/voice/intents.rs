//! What a sentence asks for: sentence templates in the style of Home
//! Assistant's hassil (`[optional]`, `(one|other)`, `{slot}`), read from a data
//! file per language (`en.toml`), matched against what the recogniser heard
//! with tolerance for small errors: words are aligned by edit distance, and
//! a word that sounds nearly right ("reviewed" for "review") costs little.
//! Below [`THRESHOLD`] the answer is "not understood" plus the closest command.

use super::numbers::words_to_digits;
use super::template::{expand, parse, Node, Piece};
use super::VoiceError;
use crate::inference::guide::{Pattern, Sentences};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

/// How close (0..1) an utterance must come to a sentence to be understood.
pub const THRESHOLD: f32 = 0.72;
/// Sentences one template may expand to (a guard against a runaway template).
pub(super) const MAX_VARIANTS: usize = 512;
/// The longest slot value, in words.
const MAX_SLOT_WORDS: usize = 4;
/// Words the recogniser's guide lets a speaker put before a command (as [`extra_word_cost`] forgives them).
const LEAD_FILLERS: [&str; 7] = ["please", "hey", "ok", "okay", "so", "um", "box"];
/// ... and after it.
const TAIL_FILLERS: [&str; 2] = ["please", "now"];

/// How an alignment cell was reached: the previous cell and a slot value.
type Step = (usize, usize, Option<String>);

/// The heard words aligned with one sentence.
struct Alignment {
    cost: f32,
    slots: BTreeMap<String, String>,
    /// Indices of heard words left over: ones the sentence has no place for, or that stand in for a sentence
    /// word they sound nothing like; in order.
    extra: Vec<usize>,
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

/// The grammar's verdict: understood, or not (with the closest command, if any came near).
pub type Understanding = Result<Understood, Option<Understood>>;

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
    pub fn understand(&self, text: &str) -> Understanding {
        let heard = normalize(text);
        if heard.is_empty() {
            return Err(None);
        }
        let mut best: Option<Understood> = None;
        for (intent, written, variants) in &self.sentences {
            for v in variants {
                let Some(Alignment { cost, slots, .. }) = self.align(&heard, v) else {
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

    /// Edit-distance alignment of the heard words with one sentence, or None
    /// if a slot cannot be filled.
    fn align(&self, heard: &[String], sentence: &[Piece]) -> Option<Alignment> {
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
        let mut extra = Vec::new();
        let (mut i, mut j) = (n, m);
        while let Some((pi, pj, value)) = back[i][j].clone() {
            if let (Some(v), Some(Piece::Slot(name))) = (value, sentence.get(pj)) {
                if pj + 1 == j {
                    slots.insert(name.clone(), v);
                }
            }
            // Left over: words the sentence has no place for, or that stand in for words they sound little like.
            let unlike = matches!(sentence.get(pj), Some(Piece::Word(_)))
                && cost[i][j] - cost[pi][pj] >= 0.5;
            if pj == j || unlike {
                extra.extend((pi..i).rev());
            }
            i = pi;
            j = pj;
        }
        extra.reverse();
        Some(Alignment {
            cost: cost[n][m],
            slots,
            extra,
        })
    }

    /// Fills the slots `u`'s intent takes but `u` lacks from `free`, the recogniser's free transcript, when the
    /// words used were the grammar's likeliest sentence and that kept only part of what was said ("what is
    /// waiting" of "what is waiting in copy editing"). `free` is aligned with the intent's own sentences; a
    /// missing slot is taken from that alignment, or from the words it left over when a value is said right
    /// after a word that comes before that slot in one of the intent's sentences ("in", "the" before a stage;
    /// "submission", "number" before a number). Nothing is guessed when two different values would fit.
    pub fn fill_from(&self, u: &mut Understood, free: &str) {
        let heard = normalize(free);
        let mut takes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut best: Option<Alignment> = None;
        for (_, _, variants) in self.sentences.iter().filter(|(i, _, _)| *i == u.intent) {
            for v in variants {
                for (k, piece) in v.iter().enumerate() {
                    if let Piece::Slot(name) = piece {
                        let cues = takes.entry(name).or_default();
                        if let Some(Piece::Word(w)) = k.checked_sub(1).and_then(|k| v.get(k)) {
                            if !cues.contains(&w.as_str()) {
                                cues.push(w);
                            }
                        }
                    }
                }
                if let Some(a) = self.align(&heard, v) {
                    if best.as_ref().is_none_or(|b| a.cost < b.cost) {
                        best = Some(a);
                    }
                }
            }
        }
        let Some(best) = best else { return };
        for (name, cues) in takes {
            if u.slots.contains_key(name) {
                continue;
            }
            // Every value the free transcript offers for this slot: the alignment's own, and the best one said
            // after each cue among the left-over words.
            let mut values: Vec<String> = best.slots.get(name).into_iter().cloned().collect();
            for (r, &start) in best.extra.iter().enumerate() {
                let cued = start
                    .checked_sub(1)
                    .and_then(|k| heard.get(k))
                    .is_some_and(|before| cues.iter().any(|c| similarity(before, c) >= 0.8));
                if !cued {
                    continue;
                }
                let run = best.extra[r..]
                    .iter()
                    .enumerate()
                    .take_while(|(d, &k)| k == start + d)
                    .count();
                let said = (1..=run.min(MAX_SLOT_WORDS))
                    .filter_map(|len| self.slot_value(name, &heard[start..start + len]))
                    .min_by(|a, b| a.1.total_cmp(&b.1));
                values.extend(said.map(|(v, _)| v));
            }
            values.sort();
            values.dedup();
            if let [value] = values.as_slice() {
                u.slots.insert(name.to_string(), value.clone());
            }
        }
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

    fn filled(words: &str, free: &str) -> BTreeMap<String, String> {
        let g = g();
        let mut u = g.understand(words).expect("the words are a command");
        g.fill_from(&mut u, free);
        u.slots
    }

    #[test]
    fn a_slot_the_guided_words_lost_is_taken_from_the_free_transcript() {
        let s = filled("what is waiting", "What is waiting in copy editing?");
        assert_eq!(s["stage"], "copyediting");
        let s = filled("what is waiting", "what's waiting in the production stage");
        assert_eq!(s["stage"], "production");
        let s = filled("who should review", "who should review paper twelve please");
        assert_eq!(s["number"], "12");
        // A slot the words kept is kept.
        let s = filled(
            "how many submissions are in review",
            "how many are in production",
        );
        assert_eq!(s["stage"], "review");
    }

    #[test]
    fn a_slot_is_not_guessed_from_a_word_the_command_itself_uses() {
        // "submissions" sounds like the stage "submission", but nothing that comes before a stage leads to it.
        assert!(filled("what is waiting", "what submissions are waiting").is_empty());
        assert!(filled("what is waiting", "what is waiting today").is_empty());
        // Two stages said: which one was meant is not guessed.
        assert!(filled(
            "what is waiting",
            "what is waiting in review and in production"
        )
        .is_empty());
    }

    #[test]
    fn word_similarity_is_strict_for_short_words() {
        assert_eq!(similarity("review", "review"), 1.0);
        assert!(similarity("reviewed", "review") > 0.7);
        assert!(similarity("ten", "then") < 0.5);
    }
}
