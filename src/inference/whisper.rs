//! Whisper on ONNX Runtime (`ort`): our own decoding loop over the encoder and
//! decoder that `scripts/voice/whisper_ct2_to_sherpa.py` writes (sherpa-onnx's
//! interface: the encoder returns the decoder's cross-attention keys and
//! values; the decoder takes tokens, its self-attention cache and an offset).
//!
//! One encoder run per utterance, then two decodings from it: a free greedy
//! transcript (what the model heard), and, when a grammar is given, the
//! grammar's likeliest sentence by beam search ([`super::guide`]). Owning the
//! loop is what makes the guided search possible: sherpa-onnx's Whisper takes
//! no hotwords and no constraint.

use super::embed::ort_session;
use super::guide::{beam_search, log_softmax, Guided, Nfa, Sentences, Tokens, Vocabulary};
use super::mel;
use super::InferenceError;
use ort::session::Session;
use ort::value::{DynValue, Tensor};
use std::path::Path;
use std::sync::Arc;
use tokenizers::Tokenizer;

/// Hypotheses kept by the guided search.
pub const BEAM: usize = 6;
/// The longest guided sentence, in tokens (and at most the free transcript's bound plus a few for punctuation).
const MAX_GUIDED_TOKENS: usize = 40;
const GUIDED_EXTRA_TOKENS: usize = 4;
/// The longest free transcript, in tokens (a command is short; this stops a model that repeats itself) ...
const MAX_FREE_TOKENS: usize = 96;
/// ... and at most this many tokens per second of audio (sherpa-onnx bounds it the same way), at least [`MIN_FREE_TOKENS`].
const FREE_TOKENS_PER_SECOND: usize = 6;
const MIN_FREE_TOKENS: usize = 8;

/// What the model heard in one utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The free transcript, as Whisper writes it (leading space included).
    pub text: String,
    /// Its average log-probability per token.
    pub logprob: f32,
    pub guided: Option<Guided>,
}

/// The decoder's self-attention cache and how many positions it holds.
pub struct Cache {
    k: DynValue,
    v: DynValue,
    offset: i64,
}

/// A copy of an f32 tensor (ONNX Runtime's values are not `Clone`).
fn copy_f32(v: &DynValue) -> Result<DynValue, String> {
    let (shape, data) = v.try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
    let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
    Tensor::from_array((dims, data.to_vec()))
        .map(|t| t.into_dyn())
        .map_err(|e| e.to_string())
}

impl Cache {
    /// A copy, so two decodings can go on from the same prompt (one decoder run saved per utterance).
    fn copy(&self) -> Result<Cache, String> {
        Ok(Cache {
            k: copy_f32(&self.k)?,
            v: copy_f32(&self.v)?,
            offset: self.offset,
        })
    }
}

pub struct Whisper {
    encoder: Session,
    decoder: Session,
    tokens: Tokens,
    /// The model's tokenizer (`tokenizer.json`): how it writes each word of a grammar.
    tokenizer: Tokenizer,
    /// The last grammar compiled for this model, and what it was compiled from.
    compiled: Option<(Arc<Sentences>, Arc<Nfa>)>,
    sot: i64,
    eot: i64,
    no_timestamps: i64,
    n_layer: usize,
    n_ctx: usize,
    d: usize,
    model: String,
}

/// Reads `tokens.txt` (`base64(bytes) id` per line) into bytes by id.
pub fn read_tokens(text: &str) -> Result<Vec<Vec<u8>>, String> {
    use base64::Engine;
    let mut tokens: Vec<Vec<u8>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some((b64, id)) = line.rsplit_once(' ') else {
            return Err(format!("tokens.txt line {}: want `base64 id`", i + 1));
        };
        let id: usize = id
            .trim()
            .parse()
            .map_err(|_| format!("tokens.txt line {}: bad id", i + 1))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("tokens.txt line {}: {e}", i + 1))?;
        if id >= 1 << 20 {
            return Err(format!("tokens.txt line {}: id {id} too large", i + 1));
        }
        if tokens.len() <= id {
            tokens.resize(id + 1, Vec::new());
        }
        tokens[id] = bytes;
    }
    if tokens.is_empty() {
        return Err("tokens.txt is empty".into());
    }
    Ok(tokens)
}

fn run_err(model: &str, message: impl std::fmt::Display) -> InferenceError {
    InferenceError::Run {
        model: model.to_string(),
        message: message.to_string(),
    }
}

fn meta(s: &Session, key: &str) -> Result<i64, String> {
    let m = s.metadata().map_err(|e| e.to_string())?;
    let v = m
        .custom(key)
        .ok_or_else(|| format!("the decoder's metadata has no {key}"))?;
    v.trim()
        .parse()
        .map_err(|_| format!("the decoder's metadata {key}={v:?} is not a number"))
}

impl Whisper {
    /// Loads the converted model (ONNX Runtime must be initialised: [`super::embed::init_ort`]).
    pub fn load(
        model: &str,
        encoder: &Path,
        decoder: &Path,
        tokens: &Path,
        tokenizer: &Path,
        threads: usize,
    ) -> Result<Whisper, InferenceError> {
        let load = |message: String| InferenceError::Load {
            model: model.to_string(),
            message,
        };
        let text = std::fs::read_to_string(tokens).map_err(|e| load(format!("tokens.txt: {e}")))?;
        let mut vocab = read_tokens(&text).map_err(load)?;
        let tokenizer =
            Tokenizer::from_file(tokenizer).map_err(|e| load(format!("tokenizer.json: {e}")))?;
        let encoder = ort_session(encoder, threads).map_err(|e| load(format!("encoder: {e}")))?;
        let decoder = ort_session(decoder, threads).map_err(|e| load(format!("decoder: {e}")))?;
        let eot = meta(&decoder, "eot").map_err(load)?;
        let sot = meta(&decoder, "sot").map_err(load)?;
        let no_timestamps = meta(&decoder, "no_timestamps").map_err(load)?;
        let n_layer = meta(&decoder, "n_text_layer").map_err(load)?;
        let n_ctx = meta(&decoder, "n_text_ctx").map_err(load)?;
        let d = meta(&decoder, "n_text_state").map_err(load)?;
        let (Ok(n_layer), Ok(n_ctx), Ok(d)) = (
            usize::try_from(n_layer),
            usize::try_from(n_ctx),
            usize::try_from(d),
        ) else {
            return Err(load("negative sizes in the decoder's metadata".into()));
        };
        if !(1..=64).contains(&n_layer) || !(8..=4096).contains(&n_ctx) || !(8..=8192).contains(&d)
        {
            return Err(load(format!(
                "implausible sizes: {n_layer} layers, {n_ctx} positions, width {d}"
            )));
        }
        // Only ordinary tokens can be spoken: cut the list at end-of-text.
        let Ok(eot_u) = usize::try_from(eot) else {
            return Err(load(format!("eot {eot}")));
        };
        vocab.truncate(eot_u);
        Ok(Whisper {
            encoder,
            decoder,
            tokens: Tokens::new(vocab),
            tokenizer,
            compiled: None,
            sot,
            eot,
            no_timestamps,
            n_layer,
            n_ctx,
            d,
            model: model.to_string(),
        })
    }

    fn err(&self, message: impl std::fmt::Display) -> InferenceError {
        run_err(&self.model, message)
    }

    /// `sentences` compiled over this model's tokens (the last compilation is kept: a grammar is compiled once).
    pub fn compile(&mut self, sentences: &Arc<Sentences>) -> Arc<Nfa> {
        if let Some((from, nfa)) = &self.compiled {
            if Arc::ptr_eq(from, sentences) {
                return nfa.clone();
            }
        }
        let (tokenizer, vocab) = (&self.tokenizer, &self.tokens);
        let encode = |text: &str| -> Option<Vec<u32>> {
            let ids = tokenizer.encode(text, false).ok()?.get_ids().to_vec();
            ids.iter()
                .all(|&t| (t as usize) < vocab.len())
                .then_some(ids)
        };
        let nfa = Arc::new(Nfa::compile(
            sentences,
            &Vocabulary {
                tokens: vocab,
                encode: &encode,
            },
        ));
        self.compiled = Some((sentences.clone(), nfa.clone()));
        nfa
    }

    /// The cross-attention keys and values for `samples` (16 kHz mono).
    fn encode(&mut self, samples: &[f32]) -> Result<(DynValue, DynValue), InferenceError> {
        let (m, frames) = mel::log_mel(samples);
        if frames == 0 {
            return Err(self.err("no audio"));
        }
        let (m, total) = mel::pad_frames(&m, frames);
        let model = self.model.as_str();
        let err = |m: &dyn std::fmt::Display| run_err(model, m);
        let input = Tensor::from_array(([1usize, mel::N_MELS, total], m)).map_err(|e| err(&e))?;
        let mut out = self
            .encoder
            .run(ort::inputs!["mel" => input])
            .map_err(|e| err(&format!("encoder: {e}")))?;
        let k = out
            .remove("n_layer_cross_k")
            .ok_or_else(|| err(&"the encoder gave no n_layer_cross_k"))?;
        let v = out
            .remove("n_layer_cross_v")
            .ok_or_else(|| err(&"the encoder gave no n_layer_cross_v"))?;
        Ok((k, v))
    }

    /// Feeds `tokens` at `cache`'s offset; the logits after the last one, and the grown cache.
    fn step(
        &mut self,
        cross: &(DynValue, DynValue),
        cache: Option<&Cache>,
        tokens: &[i64],
    ) -> Result<(Cache, Vec<f32>), InferenceError> {
        let offset = cache.map_or(0, |c| c.offset);
        if offset as usize + tokens.len() > self.n_ctx {
            return Err(self.err("the transcript outgrew the decoder's context"));
        }
        let (n_layer, n_ctx, d) = (self.n_layer, self.n_ctx, self.d);
        let model = self.model.as_str();
        let err = |m: &dyn std::fmt::Display| run_err(model, m);
        let toks =
            Tensor::from_array(([1usize, tokens.len()], tokens.to_vec())).map_err(|e| err(&e))?;
        let off = Tensor::from_array(([1usize], vec![offset])).map_err(|e| err(&e))?;
        let shape = [n_layer, 1, n_ctx, d];
        let zeros = || Tensor::from_array((shape, vec![0f32; shape.iter().product()]));
        let mut out = match cache {
            Some(c) => self.decoder.run(ort::inputs![
                "tokens" => toks,
                "in_n_layer_self_k_cache" => &c.k,
                "in_n_layer_self_v_cache" => &c.v,
                "n_layer_cross_k" => &cross.0,
                "n_layer_cross_v" => &cross.1,
                "offset" => off,
            ]),
            None => {
                let (zk, zv) = (zeros().map_err(|e| err(&e))?, zeros().map_err(|e| err(&e))?);
                self.decoder.run(ort::inputs![
                    "tokens" => toks,
                    "in_n_layer_self_k_cache" => zk,
                    "in_n_layer_self_v_cache" => zv,
                    "n_layer_cross_k" => &cross.0,
                    "n_layer_cross_v" => &cross.1,
                    "offset" => off,
                ])
            }
        }
        .map_err(|e| err(&format!("decoder: {e}")))?;
        let logits = {
            let (shape, data) = out
                .get("logits")
                .ok_or_else(|| err(&"the decoder gave no logits"))?
                .try_extract_tensor::<f32>()
                .map_err(|e| err(&e))?;
            let vocab = shape.last().copied().unwrap_or(0).max(0) as usize;
            if vocab == 0 || data.len() < vocab {
                return Err(err(&"the decoder gave empty logits"));
            }
            data[data.len() - vocab..].to_vec()
        };
        let k = out
            .remove("out_n_layer_self_k_cache")
            .ok_or_else(|| err(&"the decoder gave no self-attention cache"))?;
        let v = out
            .remove("out_n_layer_self_v_cache")
            .ok_or_else(|| err(&"the decoder gave no self-attention cache"))?;
        Ok((
            Cache {
                k,
                v,
                offset: offset + tokens.len() as i64,
            },
            logits,
        ))
    }

    /// Transcribes `samples` (16 kHz mono, at most 29.5 s are heard); with `grammar`, also finds its likeliest
    /// sentence.
    pub fn transcribe(
        &mut self,
        samples: &[f32],
        grammar: Option<&Arc<Sentences>>,
    ) -> Result<Transcript, InferenceError> {
        let grammar = grammar.map(|g| self.compile(g));
        let cross = self.encode(samples)?;
        let prompt = [self.sot, self.no_timestamps];
        let (cache, logits) = self.step(&cross, None, &prompt)?;
        // The guided search starts from the same prompt.
        let first = match grammar {
            Some(_) => Some((cache.copy().map_err(|e| self.err(e))?, logits.clone())),
            None => None,
        };
        // Free: greedy over the ordinary tokens and end-of-text.
        let mut tokens: Vec<u32> = Vec::new();
        let mut sum = 0f32;
        let mut cur = (cache, logits);
        let per_second = FREE_TOKENS_PER_SECOND * samples.len() / mel::SAMPLE_RATE;
        let max_tokens = per_second.clamp(MIN_FREE_TOKENS, MAX_FREE_TOKENS);
        for i in 0..max_tokens {
            let lp = log_softmax(&cur.1);
            let limit = (self.eot as usize + 1).min(lp.len());
            // Whisper's suppress_blank: no end of text (and no lone space) first.
            let best = (0..limit)
                .filter(|&t| i > 0 || (t as i64 != self.eot && self.tokens.bytes(t as u32) != b" "))
                .max_by(|&a, &b| lp[a].total_cmp(&lp[b]))
                .unwrap_or(self.eot as usize);
            sum += lp.get(best).copied().unwrap_or(0.0);
            if best as i64 == self.eot {
                break;
            }
            tokens.push(best as u32);
            let next = self.step(&cross, Some(&cur.0), &[best as i64])?;
            cur = next;
        }
        let text = self.tokens.text(&tokens);
        let logprob = sum / (tokens.len() + 1) as f32;
        let guided = match (grammar.as_deref(), first) {
            (Some(nfa), Some(first)) => {
                let eot = self.eot as u32;
                let vocab = std::mem::replace(&mut self.tokens, Tokens::new(Vec::new()));
                let limit = (max_tokens + GUIDED_EXTRA_TOKENS).min(MAX_GUIDED_TOKENS);
                let found = beam_search(nfa, &vocab, eot, BEAM, limit, first, |c, t| {
                    self.step(&cross, Some(c), &[i64::from(t)])
                });
                self.tokens = vocab;
                found?
            }
            _ => None,
        };
        Ok(Transcript {
            text,
            logprob,
            guided,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_txt_is_read_by_id_and_bad_lines_are_named() {
        let t = read_tokens("IQ== 0\nIFdoYXQ= 2\n").unwrap();
        assert_eq!(t, vec![b"!".to_vec(), vec![], b" What".to_vec()]);
        assert!(read_tokens("IQ==\n").unwrap_err().contains("line 1"));
        assert!(read_tokens("IQ== x\n").unwrap_err().contains("bad id"));
        assert!(read_tokens("").is_err());
    }
}
