//! Guided decoding: the recogniser's beam search restricted to the sentences
//! a grammar can say. The grammar arrives as [`Pattern`]s (words, choices,
//! optional parts, whole numbers) and is compiled, for one model, into an
//! automaton over that model's tokens: every word as the model's own
//! tokenizer writes it (with its space; lower case or Capitalised, short words
//! also in CAPITALS; or hyphen-joined), commas after any word, a full stop or
//! question mark at the end, numbers as number words or digits. Only the
//! tokenizer's own (canonical) spellings are allowed, because they are the
//! only ones the model was trained to write: letting any split of a word
//! through filled the beam with fragments of one word (" o", " ov", " over")
//! that crowded other sentences out.
//!
//! Scores are the model's own log-probabilities over its whole vocabulary,
//! so the guided result's average log-probability can be compared with the
//! free transcript's: a guided sentence far less likely than what the model
//! heard freely means the speaker said something else.
//!
//! Pure: the model is a closure ([`beam_search`]'s `step`), its tokenizer
//! another ([`Vocabulary::encode`]).

/// A piece of what may be said.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    Word(String),
    /// A whole number, in digits ("12") or words ("twelve", "one hundred and one").
    Number,
    Seq(Vec<Pattern>),
    Alt(Vec<Pattern>),
    Opt(Box<Pattern>),
}

/// Words a number may be said with.
const NUMBER_WORDS: [&str; 32] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
    "and",
    "a",
];

/// Everything a grammar can say, before it meets a model's vocabulary.
pub type Sentences = Vec<Pattern>;

/// Punctuation a recogniser may write after any word ("Well, ...") and at the end of a sentence ("What is overdue?").
const COMMA: &[u8] = b",;:";
const FULL_STOP: &[u8] = b".?!";
/// Words this short may also be written in CAPITALS (acronyms: "OJS"); longer ones in capitals were the model
/// shouting ("NINE"), and letting them in gave the search more ways to explain noise.
const ACRONYM_LETTERS: usize = 3;

#[derive(Debug, Clone, Default)]
struct State {
    tokens: Vec<(u32, u32)>,
    eps: Vec<u32>,
}

/// The sentences of a grammar as an automaton over one model's tokens: each word may be written as the model's
/// tokenizer writes it (its canonical tokenisation) with a leading space, in lower case or Capitalised (short words
/// also in CAPITALS), or joined to the word before by a hyphen ("twenty-one", "copy-editing"); a comma may follow
/// any word, a full stop or question mark the sentence; a number may also be digits (any digit tokens, the first
/// with its space).
#[derive(Debug, Clone)]
pub struct Nfa {
    states: Vec<State>,
    start: Vec<u32>,
    accept: u32,
}

/// What [`Nfa::compile`] needs of a model's vocabulary.
pub struct Vocabulary<'a> {
    /// The model's ordinary tokens.
    pub tokens: &'a Tokens,
    /// The canonical tokenisation of a text (`None` when the tokenizer cannot write it).
    pub encode: &'a dyn Fn(&str) -> Option<Vec<u32>>,
}

struct Builder<'a> {
    nfa: Nfa,
    vocab: &'a Vocabulary<'a>,
    /// Tokens made only of commas (or semicolons, colons); of full stops (or ?, !); of a space and digits; of digits.
    commas: Vec<u32>,
    stops: Vec<u32>,
    spaced_digits: Vec<u32>,
    digits: Vec<u32>,
    /// Canonical tokenisations already asked for.
    encoded: std::collections::HashMap<String, Option<Vec<u32>>>,
}

fn capitalised(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl Builder<'_> {
    fn new_state(&mut self) -> u32 {
        self.nfa.states.push(State::default());
        (self.nfa.states.len() - 1) as u32
    }

    fn encode(&mut self, text: &str) -> Option<Vec<u32>> {
        if let Some(e) = self.encoded.get(text) {
            return e.clone();
        }
        let e = (self.vocab.encode)(text).filter(|t| !t.is_empty());
        self.encoded.insert(text.to_string(), e.clone());
        e
    }

    /// A path of `tokens` from `from` to `to`.
    fn path(&mut self, tokens: &[u32], from: u32, to: u32) {
        let mut cur = from;
        for (i, &t) in tokens.iter().enumerate() {
            let next = if i + 1 == tokens.len() {
                to
            } else {
                self.new_state()
            };
            self.nfa.states[cur as usize].tokens.push((t, next));
            cur = next;
        }
    }

    /// One word (no spaces) from `from`; returns its end, where punctuation may follow.
    fn word(&mut self, w: &str, from: u32) -> u32 {
        let end = self.new_state();
        let lower = w.to_lowercase();
        let mut spellings = vec![lower.clone(), capitalised(&lower)];
        if lower.chars().count() <= ACRONYM_LETTERS {
            spellings.push(lower.to_uppercase());
        }
        spellings.dedup();
        let mut paths: Vec<Vec<u32>> = Vec::new();
        for s in &spellings {
            if let Some(t) = self.encode(&format!(" {s}")) {
                paths.push(t);
            }
        }
        if let (Some(mut h), Some(t)) = (self.encode("-"), self.encode(&lower)) {
            h.extend(t);
            paths.push(h);
        }
        paths.sort();
        paths.dedup();
        for p in &paths {
            self.path(p, from, end);
        }
        for &p in &self.commas.clone() {
            self.nfa.states[end as usize].tokens.push((p, end));
        }
        end
    }

    fn build(&mut self, p: &Pattern, from: u32) -> u32 {
        match p {
            Pattern::Word(w) => {
                let mut cur = from;
                for part in w.split_whitespace() {
                    cur = self.word(part, cur);
                }
                cur
            }
            Pattern::Seq(items) => items.iter().fold(from, |cur, item| self.build(item, cur)),
            Pattern::Alt(items) => {
                let end = self.new_state();
                for item in items {
                    let e = self.build(item, from);
                    self.nfa.states[e as usize].eps.push(end);
                }
                end
            }
            Pattern::Opt(item) => {
                let end = self.new_state();
                let e = self.build(item, from);
                self.nfa.states[e as usize].eps.push(end);
                self.nfa.states[from as usize].eps.push(end);
                end
            }
            Pattern::Number => {
                let end = self.new_state();
                // Digits: a token of a space and digits, then any digit tokens; punctuation may follow.
                let digits = self.new_state();
                for &t in &self.spaced_digits.clone() {
                    self.nfa.states[from as usize].tokens.push((t, digits));
                }
                for &t in self.digits.clone().iter().chain(&self.commas.clone()) {
                    self.nfa.states[digits as usize].tokens.push((t, digits));
                }
                self.nfa.states[digits as usize].eps.push(end);
                // Words: one or more number words, "and" or "a" only between them ("one hundred and one").
                let lp = self.new_state();
                self.nfa.states[from as usize].eps.push(lp);
                let after = self.new_state();
                let joined = self.new_state();
                for w in NUMBER_WORDS.iter().filter(|w| **w != "a" && **w != "and") {
                    let e = self.word(w, lp);
                    self.nfa.states[e as usize].eps.push(after);
                }
                for w in ["and", "a"] {
                    let e = self.word(w, after);
                    self.nfa.states[e as usize].eps.push(joined);
                }
                self.nfa.states[joined as usize].eps.push(lp);
                self.nfa.states[after as usize].eps.push(lp);
                self.nfa.states[after as usize].eps.push(end);
                end
            }
        }
    }
}

impl Nfa {
    /// Compiles the sentences (the automaton accepts any of them) for the model whose vocabulary is `vocab`.
    pub fn compile(sentences: &[Pattern], vocab: &Vocabulary) -> Nfa {
        let class = |pred: &dyn Fn(&[u8]) -> bool| -> Vec<u32> {
            (0..vocab.tokens.len() as u32)
                .filter(|&t| {
                    let b = vocab.tokens.bytes(t);
                    !b.is_empty() && pred(b)
                })
                .collect()
        };
        let mut b = Builder {
            nfa: Nfa {
                states: vec![State::default(), State::default()],
                start: Vec::new(),
                accept: 1,
            },
            vocab,
            commas: class(&|b| b.len() <= 3 && b.iter().all(|c| COMMA.contains(c))),
            stops: class(&|b| b.len() <= 3 && b.iter().all(|c| FULL_STOP.contains(c))),
            spaced_digits: class(&|b| {
                b.len() >= 2 && b[0] == b' ' && b[1..].iter().all(u8::is_ascii_digit)
            }),
            digits: class(&|b| b.iter().all(u8::is_ascii_digit)),
            encoded: std::collections::HashMap::new(),
        };
        // Every sentence ends at `last`, where a full stop may come before the end.
        let last = b.new_state();
        b.nfa.states[last as usize].eps.push(1);
        for &p in &b.stops.clone() {
            b.nfa.states[last as usize].tokens.push((p, 1));
        }
        for s in sentences {
            let end = b.build(s, 0);
            b.nfa.states[end as usize].eps.push(last);
        }
        let mut nfa = b.nfa;
        nfa.start = nfa.closure(vec![0]);
        nfa
    }

    fn closure(&self, mut set: Vec<u32>) -> Vec<u32> {
        let mut i = 0;
        while i < set.len() {
            let s = set[i] as usize;
            for &e in &self.states[s].eps {
                if !set.contains(&e) {
                    set.push(e);
                }
            }
            i += 1;
        }
        set.sort_unstable();
        set
    }

    /// Every token allowed after `set`, with the states after it.
    pub fn allowed(&self, set: &[u32]) -> Vec<(u32, Vec<u32>)> {
        let mut next: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for &s in set {
            for &(t, to) in &self.states[s as usize].tokens {
                let e = next.entry(t).or_default();
                if !e.contains(&to) {
                    e.push(to);
                }
            }
        }
        next.into_iter()
            .map(|(t, to)| (t, self.closure(to)))
            .collect()
    }

    /// The states after `tokens`; empty when they leave the grammar.
    pub fn read(&self, set: &[u32], tokens: &[u32]) -> Vec<u32> {
        let mut cur = set.to_vec();
        for &t in tokens {
            cur = self
                .allowed(&cur)
                .into_iter()
                .find(|(a, _)| *a == t)
                .map(|(_, s)| s)
                .unwrap_or_default();
            if cur.is_empty() {
                break;
            }
        }
        cur
    }

    pub fn start(&self) -> &[u32] {
        &self.start
    }

    /// Whether a sentence may end here.
    pub fn accepts(&self, set: &[u32]) -> bool {
        set.contains(&self.accept)
    }

    /// Whether `tokens` are one of the sentences.
    pub fn matches(&self, tokens: &[u32]) -> bool {
        let set = self.read(&self.start, tokens);
        self.accepts(&set)
    }

    /// The number of states (a measure of the grammar's size).
    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

/// A model's ordinary tokens: their bytes by id.
#[derive(Debug, Clone)]
pub struct Tokens {
    tokens: Vec<Vec<u8>>,
}

impl Tokens {
    pub fn new(tokens: Vec<Vec<u8>>) -> Tokens {
        Tokens { tokens }
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn bytes(&self, token: u32) -> &[u8] {
        self.tokens
            .get(token as usize)
            .map_or(&[], |t| t.as_slice())
    }

    /// The text of a token sequence.
    pub fn text(&self, tokens: &[u32]) -> String {
        let bytes: Vec<u8> = tokens
            .iter()
            .flat_map(|&t| self.bytes(t).iter().copied())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// The best sentence of the grammar for what the model heard.
#[derive(Debug, Clone, PartialEq)]
pub struct Guided {
    pub text: String,
    pub tokens: Vec<u32>,
    /// Average log-probability per token (end of text included).
    pub logprob: f32,
}

/// Lower-case words without punctuation: what two spellings of one sentence share.
fn words_key(text: &str) -> String {
    text.to_lowercase()
        .replace('-', " ")
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '?' | '!' | ';' | ':'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let sum: f32 = logits.iter().map(|x| (x - max).exp()).sum();
    let lse = max + sum.ln();
    logits.iter().map(|x| x - lse).collect()
}

struct Hyp<C> {
    tokens: Vec<u32>,
    states: Vec<u32>,
    logp: f32,
    cache: C,
    logits: Vec<f32>,
}

/// Beam search over the grammar's sentences. `first` is the model's state and next-token logits after the prompt;
/// `step(cache, token)` feeds one token and returns the new state and logits. Returns the best finished sentence
/// by average log-probability, or `None` when none finished within `max_tokens`.
pub fn beam_search<C, E>(
    nfa: &Nfa,
    tokens: &Tokens,
    eot: u32,
    beam: usize,
    max_tokens: usize,
    first: (C, Vec<f32>),
    mut step: impl FnMut(&C, u32) -> Result<(C, Vec<f32>), E>,
) -> Result<Option<Guided>, E> {
    let beam = beam.max(1);
    let mut hyps = vec![Hyp {
        tokens: Vec::new(),
        states: nfa.start().to_vec(),
        logp: 0.0,
        cache: first.0,
        logits: first.1,
    }];
    let mut finished: Vec<Guided> = Vec::new();
    for _ in 0..max_tokens {
        // (hyp, token, score, states): None states = end of text.
        let mut cands: Vec<(usize, u32, f32, Option<Vec<u32>>)> = Vec::new();
        for (i, h) in hyps.iter().enumerate() {
            let lp = log_softmax(&h.logits);
            let at = |t: u32| lp.get(t as usize).copied().unwrap_or(f32::NEG_INFINITY);
            if nfa.accepts(&h.states) {
                cands.push((i, eot, h.logp + at(eot), None));
            }
            let mut mine: Vec<(usize, u32, f32, Option<Vec<u32>>)> = nfa
                .allowed(&h.states)
                .into_iter()
                .map(|(t, s)| (i, t, h.logp + at(t), Some(s)))
                .collect();
            mine.sort_by(|a, b| b.2.total_cmp(&a.2));
            mine.truncate(beam);
            cands.extend(mine);
        }
        cands.sort_by(|a, b| b.2.total_cmp(&a.2));
        let mut next = Vec::new();
        // Spellings of the same words ("What is" and "what is,") are one hypothesis: the likeliest is kept, so case
        // and punctuation variants do not crowd the other sentences out of the beam.
        let mut seen: Vec<(String, bool)> = Vec::new();
        for (i, t, score, states) in cands {
            if next.len() >= beam {
                break;
            }
            let h = &hyps[i];
            let mut key_tokens = h.tokens.clone();
            key_tokens.push(t);
            let key = (words_key(&tokens.text(&key_tokens)), states.is_none());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            match states {
                None => finished.push(Guided {
                    text: tokens.text(&h.tokens),
                    tokens: h.tokens.clone(),
                    logprob: score / (h.tokens.len() + 1) as f32,
                }),
                Some(states) => {
                    let (cache, logits) = step(&h.cache, t)?;
                    let mut tokens = h.tokens.clone();
                    tokens.push(t);
                    next.push(Hyp {
                        tokens,
                        states,
                        logp: score,
                        cache,
                        logits,
                    });
                }
            }
        }
        hyps = next;
        if finished.len() >= beam || hyps.is_empty() {
            break;
        }
    }
    Ok(finished
        .into_iter()
        .max_by(|a, b| a.logprob.total_cmp(&b.logprob)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Pattern {
        Pattern::Word(s.into())
    }

    fn sentences() -> Sentences {
        vec![
            Pattern::Seq(vec![
                w("what is"),
                Pattern::Opt(Box::new(w("now"))),
                w("overdue"),
            ]),
            Pattern::Seq(vec![
                w("summarize"),
                Pattern::Alt(vec![w("submission"), w("paper")]),
                Pattern::Number,
            ]),
        ]
    }

    /// A toy vocabulary whose "tokenizer" is longest-match over it: " overdue" is one token, so " over" + "due"
    /// is not canonical.
    const TOY: [&str; 27] = [
        " What", " what", " WHAT", " is", " IS", " Is", " now", " overdue", " over", "due", "?",
        "!", ",", " Sum", "mar", "ize", " sum", " paper", " 12", "3", " twenty", "-", "one",
        " one", " hundred", " and", " late",
    ];

    fn toy() -> (Tokens, Nfa) {
        let vocab = Tokens::new(TOY.iter().map(|t| t.as_bytes().to_vec()).collect());
        let encode = |s: &str| longest_match(&vocab, s);
        let nfa = Nfa::compile(
            &sentences(),
            &Vocabulary {
                tokens: &vocab,
                encode: &encode,
            },
        );
        (vocab, nfa)
    }

    /// The toy's "tokenizer": at each step the longest token the text starts with; `None` when none does.
    fn longest_match(tokens: &Tokens, text: &str) -> Option<Vec<u32>> {
        let mut rest = text.as_bytes();
        let mut out = Vec::new();
        while !rest.is_empty() {
            let t = (0..tokens.len() as u32)
                .filter(|&t| !tokens.bytes(t).is_empty() && rest.starts_with(tokens.bytes(t)))
                .max_by_key(|&t| tokens.bytes(t).len())?;
            out.push(t);
            rest = &rest[tokens.bytes(t).len()..];
        }
        Some(out)
    }

    fn ids(vocab: &Tokens, parts: &[&str]) -> Vec<u32> {
        parts
            .iter()
            .map(|p| {
                (0..vocab.len() as u32)
                    .find(|&t| vocab.bytes(t) == p.as_bytes())
                    .unwrap_or_else(|| panic!("{p:?} is not a toy token"))
            })
            .collect()
    }

    #[test]
    fn the_automaton_accepts_the_grammar_s_sentences_as_the_tokenizer_writes_them() {
        let (vocab, nfa) = toy();
        let yes = |p: &[&str]| assert!(nfa.matches(&ids(&vocab, p)), "{p:?} refused");
        let no = |p: &[&str]| assert!(!nfa.matches(&ids(&vocab, p)), "{p:?} accepted");
        yes(&[" What", " is", " overdue", "?"]);
        yes(&[" what", " is", " now", " overdue"]);
        yes(&[" What", " IS", " overdue", "!"]);
        yes(&[" What", ",", " is", " overdue", "!"]);
        yes(&[" Sum", "mar", "ize", " paper", " 12", "3", "?"]);
        yes(&[" sum", "mar", "ize", " paper", " twenty", "-", "one"]);
        yes(&[
            " sum", "mar", "ize", " paper", " one", " hundred", " and", " one",
        ]);
        // Not the tokenizer's split of " overdue"; outside the grammar; unfinished.
        no(&[" What", " is", " over", "due"]);
        no(&[" What", " is", " late"]);
        no(&[" What", " is"]);
        no(&[" sum", "mar", "ize", " paper"]);
        no(&[" sum", "mar", "ize", " paper", " and"]);
        no(&["?", " What", " is", " overdue"]);
        // Capitals only for short words; a full stop only at the end.
        no(&[" WHAT", " is", " overdue"]);
        no(&[" What", "?", " is", " overdue"]);
    }

    #[test]
    fn allowed_tokens_are_the_canonical_next_tokens_of_the_grammar() {
        let (vocab, nfa) = toy();
        let names = |set: &[u32]| {
            let mut got: Vec<&str> = nfa
                .allowed(set)
                .into_iter()
                .map(|(t, _)| TOY[t as usize])
                .collect();
            got.sort();
            got
        };
        assert_eq!(names(nfa.start()), vec![" Sum", " What", " sum", " what"]);
        let after = nfa.read(nfa.start(), &ids(&vocab, &[" What", " is"]));
        assert_eq!(names(&after), vec![" now", " overdue", ","]);
    }

    #[test]
    fn beam_search_finds_the_likeliest_sentence_of_the_grammar_not_the_likeliest_string() {
        // A toy model that prefers " late" (outside the grammar) after "what is", then " overdue".
        let (vocab, nfa) = toy();
        let t = |p: &str| ids(&vocab, &[p])[0];
        let (what, is, late, overdue) = (t(" what"), t(" is"), t(" late"), t(" overdue"));
        let eot = TOY.len() as u32;
        let logits = |prev: &Vec<u32>| -> Vec<f32> {
            let mut l = vec![0.0f32; TOY.len() + 1];
            match prev.last() {
                None => l[what as usize] = 5.0,
                Some(&p) if p == what => l[is as usize] = 5.0,
                Some(&p) if p == is => {
                    l[late as usize] = 6.0;
                    l[overdue as usize] = 4.0;
                }
                Some(_) => l[eot as usize] = 5.0,
            }
            l
        };
        let first = (Vec::new(), logits(&Vec::new()));
        let got = beam_search(&nfa, &vocab, eot, 3, 10, first, |prev: &Vec<u32>, t| {
            let mut p = prev.clone();
            p.push(t);
            let l = logits(&p);
            Ok::<_, ()>((p, l))
        })
        .unwrap()
        .unwrap();
        assert_eq!(got.text, " what is overdue");
        assert!(got.logprob < 0.0);
    }

    #[test]
    fn longest_match_takes_the_longest_token_and_fails_on_unknown_bytes() {
        let vocab = Tokens::new(TOY.iter().map(|t| t.as_bytes().to_vec()).collect());
        let got = longest_match(&vocab, " overdue?").unwrap();
        assert_eq!(got, ids(&vocab, &[" overdue", "?"]));
        assert_eq!(longest_match(&vocab, " xyz"), None);
    }
}
