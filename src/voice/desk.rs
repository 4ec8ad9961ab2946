//! The voice desk: one spoken command from audio to answer, and what the
//! status page shows of the last ones.
//!
//! audio ([`super::audio::decode_wav`]) → voice activity and speech-to-text
//! (the [`Ear`]) → intent and answer ([`super::answers`]) → text-to-speech
//! (the [`Mouth`]). The speech models load on first use (a failure is
//! remembered for 60 s, or until the models' files change) and run on their
//! own bounded workers, so a command never runs a model unbounded inside a
//! request. Audio is never written to disk. The last [`RECENT`] exchanges are
//! kept in a fixed-capacity ring for the page.

use super::answers::{self, Answer};
use super::audio::{self, AudioError};
use super::intents::{Grammar, Understanding};
use super::VoiceError;
use crate::config::Config;
use crate::context::AppContext;
use crate::inference::speech::{
    Ear, Heard, Mouth, SpeechSettings, Spoken, STT_MODEL, TTS_MODEL, VAD_MODEL,
};
use crate::inference::{FailureMemo, InferenceError};
use crate::metrics::names::{VOICE_COMMANDS, VOICE_STAGE_DURATION};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How many exchanges the page shows.
pub const RECENT: usize = 8;
/// A free transcript the grammar understands at least this well is taken as it is.
pub const SURE: f32 = 0.95;
/// How far (in average log-probability per token) the grammar's likeliest sentence may fall below the free
/// transcript and still be taken for what was said; further below, the speaker said something else.
pub const GUIDE_MARGIN: f32 = 2.0;

/// What a spoken command is understood as, and from which words: the free transcript when the grammar
/// understands it outright, else the grammar's likeliest sentence when the recogniser found it nearly as likely as
/// what it heard freely, else the free transcript (which then gets "not understood" and the closest command). A
/// slot the chosen words lost is filled from the free transcript ([`Grammar::fill_from`]).
pub fn understand_heard(grammar: &Grammar, heard: &Heard) -> (String, Understanding) {
    understand_heard_with(grammar, heard, GUIDE_MARGIN)
}

/// [`understand_heard`] with another margin (for measuring it).
pub fn understand_heard_with(
    grammar: &Grammar,
    heard: &Heard,
    margin: f32,
) -> (String, Understanding) {
    let free = grammar.understand(&heard.text);
    let sure = free.as_ref().is_ok_and(|u| u.score >= SURE);
    let guided = heard
        .guided
        .as_ref()
        .filter(|g| !sure && g.logprob >= heard.logprob - margin)
        .map(|g| (g.text.clone(), grammar.understand(&g.text)))
        .filter(|(_, u)| u.is_ok());
    let (words, understood) = guided.unwrap_or_else(|| (heard.text.clone(), free));
    let understood = understood.map(|mut u| {
        grammar.fill_from(&mut u, &heard.text);
        u
    });
    (words, understood)
}

/// One command and its answer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Exchange {
    /// Unix seconds.
    pub at: i64,
    /// What the ear heard (absent for a typed command).
    pub heard: Option<Heard>,
    pub answer: Answer,
    /// Why there is no spoken answer, when there is none.
    pub speech_note: Option<String>,
    pub tts_ms: Option<u64>,
    /// From the end of the audio to the start of the answer (everything but the answer's playback).
    pub total_ms: u64,
}

/// A spoken exchange: the exchange and the answer's audio (as a WAV file, and as samples).
#[derive(Debug, Clone)]
pub struct Spoke {
    pub exchange: Exchange,
    pub wav: Option<Vec<u8>>,
    pub spoken: Option<Spoken>,
}

/// The voice commands' shared state: grammar, speech models, the last exchanges.
pub struct Desk {
    grammar: Grammar,
    settings: SpeechSettings,
    speak: bool,
    /// The loaded models, with the model store's state they were loaded from.
    ear: Mutex<Option<(String, Arc<Ear>)>>,
    mouth: Mutex<Option<(String, Arc<Mouth>)>>,
    ear_failure: FailureMemo,
    mouth_failure: FailureMemo,
    recent: Mutex<heapless::Deque<Exchange, RECENT>>,
    /// The microphone (its buffer allocated at the first push-to-talk); locked while it records.
    mic: Mutex<Option<super::capture::Mic>>,
    capture_device: String,
    playback_device: String,
    max_utterance_secs: u32,
    /// The grammar with its `{reviewer}` list filled from the store, for the mirror generation it was made for.
    filled: Mutex<Option<(i64, Arc<Grammar>)>>,
}

impl Desk {
    pub fn new(config: &Config) -> Result<Desk, VoiceError> {
        let mut settings = SpeechSettings::new(&config.data_dir, &config.voice.espeak_data_dir);
        settings.threads = config.voice.threads;
        Ok(Desk {
            grammar: Grammar::english()?,
            settings,
            speak: config.voice.speak,
            ear: Mutex::new(None),
            mouth: Mutex::new(None),
            ear_failure: FailureMemo::default(),
            mouth_failure: FailureMemo::default(),
            recent: Mutex::new(heapless::Deque::new()),
            filled: Mutex::new(None),
            mic: Mutex::new(None),
            capture_device: config.voice.capture_device.clone(),
            playback_device: config.voice.playback_device.clone(),
            max_utterance_secs: config.voice.max_utterance_secs,
        })
    }

    pub fn grammar(&self) -> &Grammar {
        &self.grammar
    }

    /// The grammar with the store's reviewers as the `{reviewer}` slot's values (said by full or family name),
    /// remade when a sync changed the mirror; the bare grammar when the store cannot be read.
    pub fn grammar_for(&self, ctx: &AppContext) -> Arc<Grammar> {
        let Ok(store) = ctx.open_store() else {
            return Arc::new(self.grammar.clone());
        };
        let generation = store.mirror_generation().unwrap_or(-1);
        let mut filled = self.filled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((g, grammar)) = filled.as_ref() {
            if *g == generation {
                return grammar.clone();
            }
        }
        let mut grammar = self.grammar.clone();
        let reviewers = store.reviewers().unwrap_or_default();
        grammar.set_list(
            "reviewer",
            reviewers
                .into_iter()
                .map(|r| {
                    let family = r.name.split_whitespace().last().unwrap_or("").to_string();
                    (r.name.clone(), vec![r.name, family])
                })
                .collect(),
        );
        let grammar = Arc::new(grammar);
        *filled = Some((generation, grammar.clone()));
        grammar
    }

    /// The speech-to-text side, loaded on first use.
    pub fn ear(&self) -> Result<Arc<Ear>, VoiceError> {
        let state = self.state(&[STT_MODEL, VAD_MODEL]);
        load(&self.ear, &self.ear_failure, &state, || {
            Ear::load(&self.settings)
        })
    }

    /// The text-to-speech side, loaded on first use.
    pub fn mouth(&self) -> Result<Arc<Mouth>, VoiceError> {
        let state = self.state(&[TTS_MODEL]);
        load(&self.mouth, &self.mouth_failure, &state, || {
            Mouth::load(&self.settings)
        })
    }

    /// The model store's state of `models` (versions and file stamps).
    fn state(&self, models: &[&str]) -> String {
        models
            .iter()
            .map(|m| {
                crate::models::ModelStore::resolve(&self.settings.data_dir, m)
                    .map(|s| s.state(m))
                    .unwrap_or_else(|e| e.to_string())
            })
            .collect::<Vec<_>>()
            .join("|")
    }

    /// A spoken command: a WAV upload in, the exchange and (when the box
    /// speaks) the answer as a WAV out. Bad audio is an error and is not
    /// logged as a command; silence is an exchange whose answer says so.
    pub fn command_wav(&self, ctx: &AppContext, wav: &[u8], now: i64) -> Result<Spoke, VoiceError> {
        let t0 = Instant::now();
        let clip = match audio::decode_wav(wav) {
            Ok(c) => c,
            Err(e) => {
                count(ctx, "error");
                return Err(VoiceError::Audio(e));
            }
        };
        self.command_samples(ctx, clip.samples, now, t0)
    }

    /// A command already as 16 kHz mono samples (a WAV's, or the microphone's).
    fn command_samples(
        &self,
        ctx: &AppContext,
        samples: Vec<f32>,
        now: i64,
        t0: Instant,
    ) -> Result<Spoke, VoiceError> {
        let ear = self.ear().inspect_err(|_| count(ctx, "error"))?;
        let guide = self.grammar_for(ctx).guide();
        let heard = ear.listen(samples, Some(guide)).map_err(|e| {
            count(ctx, "error");
            VoiceError::Speech(e)
        })?;
        observe(ctx, "vad", heard.vad_ms);
        observe(ctx, "stt", heard.stt_ms);
        Ok(self.finish(ctx, Some(heard), now, t0))
    }

    /// Whether the box has a microphone configured (`[voice] capture_device`).
    pub fn has_microphone(&self) -> bool {
        !self.capture_device.is_empty()
    }

    /// Push-to-talk: records one utterance from the box's microphone, answers it, and plays the answer through the
    /// speaker when one is configured. One at a time: a second press while recording is refused, not queued.
    pub fn listen(&self, ctx: &AppContext, now: i64) -> Result<Spoke, VoiceError> {
        if !self.has_microphone() {
            return Err(VoiceError::NoMicrophone);
        }
        let Ok(mut mic) = self.mic.try_lock() else {
            return Err(VoiceError::Busy);
        };
        let mic = mic.get_or_insert_with(|| {
            super::capture::Mic::new(&self.capture_device, self.max_utterance_secs)
        });
        let recording = mic.record().map_err(|e| {
            count(ctx, "error");
            VoiceError::Device(e)
        })?;
        let t0 = Instant::now();
        let mut spoke = self.command_samples(ctx, recording.samples, now, t0)?;
        if let (false, Some(s)) = (self.playback_device.is_empty(), &spoke.spoken) {
            let played = crate::system::alsa::Pcm::playback(&self.playback_device, s.sample_rate)
                .and_then(|mut p| p.write_all(&s.samples));
            if let Err(e) = played {
                tracing::warn!(error = %e, "cannot play the spoken answer");
                spoke.exchange.speech_note = Some(e.to_string());
            }
        }
        Ok(spoke)
    }

    /// A typed command (the page's text box, the CLI): answered, and spoken when the box speaks.
    pub fn command_text(&self, ctx: &AppContext, text: &str, now: i64) -> Spoke {
        let heard = Heard {
            text: text.trim().to_string(),
            speech_seconds: 0.0,
            segments: 0,
            vad_ms: 0,
            stt_ms: 0,
            logprob: 0.0,
            guided: None,
        };
        let mut spoke = self.finish(ctx, Some(heard), now, Instant::now());
        spoke.exchange.heard = None;
        spoke
    }

    fn finish(&self, ctx: &AppContext, heard: Option<Heard>, now: i64, t0: Instant) -> Spoke {
        let grammar = self.grammar_for(ctx);
        let (text, understood) = match heard.as_ref() {
            Some(h) => understand_heard(&grammar, h),
            None => (String::new(), Err(None)),
        };
        let last = self.last_answer();
        let t_answer = Instant::now();
        let (answer, outcome) = if text.is_empty() {
            let a = Answer {
                transcript: String::new(),
                intent: None,
                slots: Default::default(),
                score: 0.0,
                text: "I did not hear anything. Hold the key and speak, or say \"help\".".into(),
            };
            (a, "no_speech")
        } else {
            let a = answers::answer_unlogged(ctx, &text, understood, last.as_deref(), now);
            let outcome = if a.intent.is_some() {
                "understood"
            } else {
                "not_understood"
            };
            (a, outcome)
        };
        let answer_ms = t_answer.elapsed().as_millis() as u64;
        observe(ctx, "answer", answer_ms);
        let (spoken, speech_note) = if self.speak {
            match self
                .mouth()
                .and_then(|m| m.speak(&answer.text).map_err(VoiceError::Speech))
            {
                Ok(s) => (Some(s), None),
                Err(e) => (None, Some(e.to_string())),
            }
        } else {
            (
                None,
                Some("spoken answers are off ([voice] speak = false)".to_string()),
            )
        };
        if let Some(s) = &spoken {
            observe(ctx, "tts", s.tts_ms);
        }
        let exchange = Exchange {
            at: now,
            heard,
            answer,
            speech_note,
            tts_ms: spoken.as_ref().map(|s| s.tts_ms),
            total_ms: t0.elapsed().as_millis() as u64,
        };
        let speech = serde_json::json!({
            "heard": exchange.heard,
            "tts_ms": exchange.tts_ms,
            "total_ms": exchange.total_ms,
            "speech_note": exchange.speech_note,
        });
        answers::log(
            ctx,
            &exchange.answer,
            now,
            exchange.total_ms as f64 / 1000.0,
            Some(speech),
        );
        count(ctx, outcome);
        self.remember(exchange.clone());
        Spoke {
            wav: spoken.as_ref().and_then(|s| wav_bytes(s).ok()),
            spoken,
            exchange,
        }
    }

    /// Speaks `text` (the `say` command).
    pub fn say(&self, text: &str) -> Result<Spoken, VoiceError> {
        self.mouth()?.speak(text).map_err(VoiceError::Speech)
    }

    fn last_answer(&self) -> Option<String> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent
            .iter()
            .rev()
            .find(|e| e.answer.intent.as_deref() != Some("repeat"))
            .map(|e| e.answer.text.clone())
    }

    fn remember(&self, e: Exchange) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.is_full() {
            recent.pop_front();
        }
        let _ = recent.push_back(e);
    }

    /// The last exchanges, newest first.
    pub fn recent(&self) -> Vec<Exchange> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.iter().rev().cloned().collect()
    }
}

/// The model in `slot` if it was loaded from the model store's current `state`, else a fresh load (an update or a
/// new install changed the store: the next command hears with the new models, no restart needed).
fn load<T>(
    slot: &Mutex<Option<(String, Arc<T>)>>,
    failure: &FailureMemo,
    state: &str,
    open: impl FnOnce() -> Result<T, InferenceError>,
) -> Result<Arc<T>, VoiceError> {
    let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
    match slot.as_ref() {
        Some((loaded, t)) if loaded == state => return Ok(t.clone()),
        Some(_) => {
            tracing::info!("the speech models changed in the model store; loading the new ones");
            *slot = None;
        }
        None => {}
    }
    if let Some((message, ago)) = failure.recall(state) {
        return Err(VoiceError::NotReady(format!(
            "{message} (failed {} s ago; not retried yet)",
            ago.as_secs()
        )));
    }
    match open() {
        Ok(t) => {
            let t = Arc::new(t);
            *slot = Some((state.to_string(), t.clone()));
            Ok(t)
        }
        Err(e) => {
            failure.remember(state.to_string(), e.to_string());
            Err(VoiceError::Speech(e))
        }
    }
}

fn count(ctx: &AppContext, outcome: &str) {
    ctx.metrics
        .inc(VOICE_COMMANDS, &[("outcome", outcome)], 1.0);
}

fn observe(ctx: &AppContext, stage: &str, ms: u64) {
    ctx.metrics.observe(
        VOICE_STAGE_DURATION,
        &[("stage", stage)],
        ms as f64 / 1000.0,
    );
}

/// A spoken answer as a 16-bit mono WAV file.
pub fn wav_bytes(s: &Spoken) -> Result<Vec<u8>, AudioError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: s.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::with_capacity(44 + s.samples.len() * 2));
    {
        let mut w =
            hound::WavWriter::new(&mut out, spec).map_err(|e| AudioError::NotWav(e.to_string()))?;
        for x in &s.samples {
            w.write_sample(*x)
                .map_err(|e| AudioError::NotWav(e.to_string()))?;
        }
        w.finalize()
            .map_err(|e| AudioError::NotWav(e.to_string()))?;
    }
    Ok(out.into_inner())
}
