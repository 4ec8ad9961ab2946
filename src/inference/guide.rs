//! Guided decoding: the recogniser's beam search restricted to the sentences
//! a grammar can say. The grammar arrives as [`Pattern`]s (words, choices,
//! optional parts, whole numbers) and is compiled into a byte-level NFA; the
//! model's vocabulary is a byte trie of its tokens. At each step the allowed
//! next tokens are found by walking both together (a token is allowed when
//! its bytes keep the NFA alive), so any tokenisation of a sentence is
//! accepted, not only the canonical one. Matching ignores case and
//! punctuation (`,.?!;:`, only where a word may end: "R.E.F.R.E.S.H" is not
//! "refresh"), and reads `-` as a space ("twenty-one").
//!
//! Scores are the model's own log-probabilities over its whole vocabulary,
//! so the guided result's average log-probability can be compared with the
//! free transcript's: a guided sentence far less likely than what the model
//! heard freely means the speaker said something else.
//!
//! Pure: the model is a closure ([`beam_search`]'s `step`).

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

#[derive(Debug, Clone, Default)]
struct State {
    bytes: Vec<(u8, u32)>,
    eps: Vec<u32>,
}

/// The sentences of a grammar as a byte automaton (every word preceded by a space).
#[derive(Debug, Clone)]
pub struct Nfa {
    states: Vec<State>,
    start: Vec<u32>,
    accept: u32,
}

/// What a byte of a token means to the automaton.
enum Norm {
    Byte(u8),
    Skip,
}

fn norm(b: u8) -> Norm {
    match b {
        b'A'..=b'Z' => Norm::Byte(b + 32),
        b'-' => Norm::Byte(b' '),
        b',' | b'.' | b'?' | b'!' | b';' | b':' => Norm::Skip,
        _ => Norm::Byte(b),
    }
}

impl Nfa {
    /// Compiles the sentences (each a pattern; the automaton accepts any of them).
    pub fn compile(sentences: &[Pattern]) -> Nfa {
        let mut nfa = Nfa {
            states: vec![State::default(), State::default()],
            start: Vec::new(),
            accept: 1,
        };
        for s in sentences {
            let end = nfa.build(s, 0);
            nfa.states[end as usize].eps.push(1);
        }
        let s0 = nfa.closure(vec![0]);
        // The first word may come without its space.
        let mut start = s0.clone();
        start.extend(nfa.step(&s0, b' '));
        start.sort_unstable();
        start.dedup();
        nfa.start = start;
        nfa
    }

    fn new_state(&mut self) -> u32 {
        self.states.push(State::default());
        (self.states.len() - 1) as u32
    }

    fn word(&mut self, w: &str, from: u32) -> u32 {
        let mut cur = from;
        for b in std::iter::once(b' ').chain(w.bytes()) {
            let b = match norm(b) {
                Norm::Byte(b) => b,
                Norm::Skip => continue,
            };
            let next = self.new_state();
            self.states[cur as usize].bytes.push((b, next));
            cur = next;
        }
        cur
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
                    self.states[e as usize].eps.push(end);
                }
                end
            }
            Pattern::Opt(item) => {
                let end = self.new_state();
                let e = self.build(item, from);
                self.states[e as usize].eps.push(end);
                self.states[from as usize].eps.push(end);
                end
            }
            Pattern::Number => {
                let end = self.new_state();
                // Digits: a space, then one or more digits.
                let sp = self.new_state();
                let digits = self.new_state();
                self.states[from as usize].bytes.push((b' ', sp));
                for d in b'0'..=b'9' {
                    self.states[sp as usize].bytes.push((d, digits));
                    self.states[digits as usize].bytes.push((d, digits));
                }
                self.states[digits as usize].eps.push(end);
                // Words: one or more number words.
                let lp = self.new_state();
                self.states[from as usize].eps.push(lp);
                let after = self.new_state();
                for w in NUMBER_WORDS.iter().filter(|w| **w != "a" && **w != "and") {
                    let e = self.word(w, lp);
                    self.states[e as usize].eps.push(after);
                }
                // "one hundred and one", "a hundred": joiners only between number words.
                let joined = self.new_state();
                for w in ["and", "a"] {
                    let e = self.word(w, after);
                    self.states[e as usize].eps.push(joined);
                }
                for w in NUMBER_WORDS.iter().filter(|w| **w != "a" && **w != "and") {
                    let e = self.word(w, joined);
                    self.states[e as usize].eps.push(after);
                }
                self.states[after as usize].eps.push(lp);
                self.states[after as usize].eps.push(end);
                end
            }
        }
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

    /// The states after reading normalised byte `b` from `set`.
    fn step(&self, set: &[u32], b: u8) -> Vec<u32> {
        let mut next = Vec::new();
        for &s in set {
            for &(eb, t) in &self.states[s as usize].bytes {
                if eb == b && !next.contains(&t) {
                    next.push(t);
                }
            }
        }
        if next.is_empty() {
            return next;
        }
        self.closure(next)
    }

    /// Whether a word may end here (the next byte may be a space, or the sentence may end).
    fn at_word_end(&self, set: &[u32]) -> bool {
        self.accepts(set)
            || set.iter().any(|&s| {
                self.states[s as usize]
                    .bytes
                    .iter()
                    .any(|(b, _)| *b == b' ')
            })
    }

    /// The states after one byte of a token: punctuation is skipped where a word may end, and refused elsewhere.
    fn feed(&self, set: &[u32], b: u8) -> Vec<u32> {
        match norm(b) {
            Norm::Skip if self.at_word_end(set) => set.to_vec(),
            Norm::Skip => Vec::new(),
            Norm::Byte(b) => self.step(set, b),
        }
    }

    /// The states after reading `bytes` (a token's), normalised; empty when they leave the grammar.
    pub fn read(&self, set: &[u32], bytes: &[u8]) -> Vec<u32> {
        let mut cur = set.to_vec();
        for &b in bytes {
            cur = self.feed(&cur, b);
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

    /// Whether `text` is one of the sentences.
    pub fn matches(&self, text: &str) -> bool {
        let set = self.read(&self.start, text.as_bytes());
        self.accepts(&set)
    }
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    children: Vec<(u8, u32)>,
    token: Option<u32>,
}

/// A model's ordinary tokens (id = index) as a byte trie.
#[derive(Debug, Clone)]
pub struct TokenTrie {
    nodes: Vec<TrieNode>,
    tokens: Vec<Vec<u8>>,
}

impl TokenTrie {
    pub fn new(tokens: Vec<Vec<u8>>) -> TokenTrie {
        let mut nodes = vec![TrieNode::default()];
        for (id, t) in tokens.iter().enumerate() {
            if t.is_empty() {
                continue;
            }
            let mut cur = 0usize;
            for &b in t {
                cur = match nodes[cur].children.iter().find(|(cb, _)| *cb == b) {
                    Some(&(_, n)) => n as usize,
                    None => {
                        nodes.push(TrieNode::default());
                        let n = nodes.len() - 1;
                        nodes[cur].children.push((b, n as u32));
                        n
                    }
                };
            }
            nodes[cur].token = Some(id as u32);
        }
        TokenTrie { nodes, tokens }
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

    /// Every token that keeps `nfa` alive from `set`, with the states after it.
    pub fn allowed(&self, nfa: &Nfa, set: &[u32]) -> Vec<(u32, Vec<u32>)> {
        let mut out = Vec::new();
        let mut stack: Vec<(u32, Vec<u32>)> = vec![(0, set.to_vec())];
        while let Some((node, states)) = stack.pop() {
            for &(b, child) in &self.nodes[node as usize].children {
                let next = nfa.feed(&states, b);
                if next.is_empty() {
                    continue;
                }
                if let Some(t) = self.nodes[child as usize].token {
                    out.push((t, next.clone()));
                }
                stack.push((child, next));
            }
        }
        out
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
    trie: &TokenTrie,
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
            let mut mine: Vec<(usize, u32, f32, Option<Vec<u32>>)> = trie
                .allowed(nfa, &h.states)
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
            let key = (words_key(&trie.text(&key_tokens)), states.is_none());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            match states {
                None => finished.push(Guided {
                    text: trie.text(&h.tokens),
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

    fn grammar() -> Nfa {
        Nfa::compile(&[
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
        ])
    }

    #[test]
    fn the_automaton_accepts_the_grammar_s_sentences_in_any_case_and_punctuation() {
        let nfa = grammar();
        assert!(nfa.matches(" What is overdue?"));
        assert!(nfa.matches("what is now overdue"));
        assert!(nfa.matches(" Summarize paper 12."));
        assert!(nfa.matches(" Summarize submission twenty-one"));
        assert!(nfa.matches(" summarize paper one hundred and one"));
        assert!(!nfa.matches(" what is"));
        assert!(!nfa.matches(" what is late"));
        assert!(!nfa.matches(" summarize paper"));
        assert!(!nfa.matches(" summarize paper and"));
        assert!(nfa.matches(" What, is overdue?!"));
        assert!(!nfa.matches(" W.H.A.T is overdue"));
        assert!(!nfa.matches(" \"What is overdue\""));
    }

    #[test]
    fn allowed_tokens_are_those_that_keep_the_sentence_in_the_grammar_whatever_the_split() {
        let nfa = grammar();
        let toks: Vec<&str> = vec![
            " What", " is", " what", " over", "due", " overdue", "?", " late", " Sum", "mar",
            "ize", " 12", " pa", "per",
        ];
        let trie = TokenTrie::new(toks.iter().map(|t| t.as_bytes().to_vec()).collect());
        let mut got: Vec<&str> = trie
            .allowed(&nfa, nfa.start())
            .into_iter()
            .map(|(t, _)| toks[t as usize])
            .collect();
        got.sort();
        assert_eq!(got, vec![" Sum", " What", " what", "?"]);
        let after = nfa.read(nfa.start(), b" What is");
        let mut got: Vec<&str> = trie
            .allowed(&nfa, &after)
            .into_iter()
            .map(|(t, _)| toks[t as usize])
            .collect();
        got.sort();
        assert_eq!(got, vec![" over", " overdue", "?"]);
    }

    #[test]
    fn beam_search_finds_the_likeliest_sentence_of_the_grammar_not_the_likeliest_string() {
        // A toy model that prefers " late" (outside the grammar) after "what is", then " overdue".
        let toks = [" what", " is", " late", " overdue", " now", "<eot>"];
        let trie = TokenTrie::new(toks[..5].iter().map(|t| t.as_bytes().to_vec()).collect());
        let nfa = grammar();
        let eot = 5u32;
        let logits = |prev: &Vec<u32>| -> Vec<f32> {
            let mut l = vec![0.0f32; 6];
            match prev.last() {
                None => l[0] = 5.0,
                Some(0) => l[1] = 5.0,
                Some(1) => {
                    l[2] = 6.0;
                    l[3] = 4.0;
                }
                Some(_) => l[5] = 5.0,
            }
            l
        };
        let first = (Vec::new(), logits(&Vec::new()));
        let got = beam_search(&nfa, &trie, eot, 3, 10, first, |prev: &Vec<u32>, t| {
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
}
