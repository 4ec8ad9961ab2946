//! Measuring the voice commands on a spoken test set (made by
//! `scripts/voice/make_testset.py`): each WAV goes through the real ear
//! (Silero VAD, Whisper guided by the grammar) and the grammar, exactly as a
//! command at the box; the report gives intent accuracy (intent and slots
//! both right) and the free transcript's word error rate, per split (`tune`,
//! `heldout`) and per voice (Piper, espeak-ng, with noise).

use super::audio;
use super::desk::Desk;
use super::intents::normalize;
use super::VoiceError;
use std::collections::BTreeMap;
use std::path::Path;

/// One spoken utterance of the set.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Case {
    pub file: String,
    /// `tune` or `heldout`.
    pub split: String,
    /// How it was spoken, e.g. `piper-joe-x1.0+noise`, `espeak-en-gb-s160-p60`.
    pub engine: String,
    pub intent: String,
    pub slots: BTreeMap<String, String>,
    pub text: String,
}

/// What became of one case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub case: Case,
    /// The free transcript.
    pub heard: String,
    /// The free transcript's average log-probability per token.
    pub logprob: f32,
    /// The grammar's likeliest sentence, when the recogniser found one.
    pub guided: Option<crate::inference::speech::Guess>,
    /// What the command was understood from ([`super::desk::understand_heard`]).
    pub understood_from: String,
    pub intent: Option<String>,
    pub slots: BTreeMap<String, String>,
    /// Intent and slots as expected.
    pub correct: bool,
    pub word_errors: usize,
    pub words: usize,
}

/// Counts of a group of outcomes.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Tally {
    pub cases: usize,
    pub correct: usize,
    pub word_errors: usize,
    pub words: usize,
}

impl Tally {
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.cases.max(1) as f64
    }
    pub fn wer(&self) -> f64 {
        self.word_errors as f64 / self.words.max(1) as f64
    }
    fn add(&mut self, o: &Outcome) {
        self.cases += 1;
        self.correct += usize::from(o.correct);
        self.word_errors += o.word_errors;
        self.words += o.words;
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub all: Tally,
    pub by_split: BTreeMap<String, Tally>,
    /// By voice family: `piper`, `espeak`, and `noise` (any voice with noise mixed in).
    pub by_voice: BTreeMap<String, Tally>,
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// One line per group: all, each split, each voice.
    pub fn summary(&self) -> Vec<String> {
        let line = |name: &str, t: &Tally| {
            format!(
                "{name:<8} {:>4} utterances  intent+slots {:>5.1} %  WER {:>5.1} %",
                t.cases,
                100.0 * t.accuracy(),
                100.0 * t.wer()
            )
        };
        std::iter::once(line("all", &self.all))
            .chain(self.by_split.iter().map(|(k, t)| line(k, t)))
            .chain(self.by_voice.iter().map(|(k, t)| line(k, t)))
            .collect()
    }
}

/// Reads `manifest.tsv` (file, split, engine, intent, slots `k=v;k=v`, text).
pub fn read_manifest(dir: &Path) -> Result<Vec<Case>, VoiceError> {
    let path = dir.join("manifest.tsv");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| VoiceError::TestSet(format!("{}: {e}", path.display())))?;
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, split, engine, intent, slots, text] = cols.as_slice() else {
            return Err(VoiceError::TestSet(format!(
                "{} line {}: want 6 tab-separated columns",
                path.display(),
                i + 1
            )));
        };
        let slots = slots
            .split(';')
            .filter(|s| !s.is_empty())
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        cases.push(Case {
            file: file.to_string(),
            split: split.to_string(),
            engine: engine.to_string(),
            intent: intent.to_string(),
            slots,
            text: text.to_string(),
        });
    }
    if cases.is_empty() {
        return Err(VoiceError::TestSet(format!(
            "{} lists no utterances",
            path.display()
        )));
    }
    Ok(cases)
}

/// Word-level edit distance.
pub fn word_errors(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut cur = vec![i + 1; hypothesis.len() + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            let sub = prev[j] + usize::from(r != h);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[hypothesis.len()]
}

/// Runs every case of the set in `dir` through the desk's ear and grammar.
pub fn evaluate(desk: &Desk, dir: &Path) -> Result<Report, VoiceError> {
    let cases = read_manifest(dir)?;
    let ear = desk.ear()?;
    let mut outcomes = Vec::with_capacity(cases.len());
    for case in cases {
        let bytes = std::fs::read(dir.join(&case.file))
            .map_err(|e| VoiceError::TestSet(format!("{}: {e}", case.file)))?;
        let clip = audio::decode_wav(&bytes)?;
        let heard = ear.listen(clip.samples, Some(desk.grammar().guide()))?;
        let (words, understood) = super::desk::understand_heard(desk.grammar(), &heard);
        let (intent, slots) = match understood {
            Ok(u) => (Some(u.intent), u.slots),
            Err(_) => (None, BTreeMap::new()),
        };
        let reference = normalize(&case.text);
        let hypothesis = normalize(&heard.text);
        let correct = intent.as_deref() == Some(case.intent.as_str()) && slots == case.slots;
        outcomes.push(Outcome {
            word_errors: word_errors(&reference, &hypothesis),
            words: reference.len(),
            logprob: heard.logprob,
            guided: heard.guided,
            understood_from: words,
            heard: heard.text,
            intent,
            slots,
            correct,
            case,
        });
    }
    let mut all = Tally::default();
    let mut by_split: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_voice: BTreeMap<String, Tally> = BTreeMap::new();
    for o in &outcomes {
        all.add(o);
        by_split.entry(o.case.split.clone()).or_default().add(o);
        let family = o.case.engine.split('-').next().unwrap_or("").to_string();
        by_voice.entry(family).or_default().add(o);
        if o.case.engine.ends_with("+noise") {
            by_voice.entry("noise".into()).or_default().add(o);
        }
    }
    Ok(Report {
        all,
        by_split,
        by_voice,
        outcomes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn word_errors_count_substitutions_insertions_and_deletions() {
        assert_eq!(word_errors(&words("a b c"), &words("a b c")), 0);
        assert_eq!(word_errors(&words("a b c"), &words("a x c")), 1);
        assert_eq!(word_errors(&words("a b c"), &words("a c")), 1);
        assert_eq!(word_errors(&words("a b"), &words("a b c d")), 2);
        assert_eq!(word_errors(&words(""), &words("a")), 1);
    }
}
