//! Speech on the device: an [`Ear`] (Silero voice-activity detection through
//! sherpa-onnx's C API, then Whisper tiny.en speech-to-text with our own
//! decoding loop on ONNX Runtime, see [`super::whisper`]: a free transcript
//! and, given the commands' grammar, the grammar's likeliest sentence) and a
//! [`Mouth`] (a Piper voice through piper-rs, on the process's ONNX Runtime).
//!
//! Each sits on its own [`Worker`] (one utterance at a time, a bounded queue,
//! a deadline). Models come only from the model store's verified path: the
//! files are hashed against their manifest before sherpa-onnx or ONNX Runtime
//! opens them (sherpa-onnx exits the process on some malformed models, so a
//! file that does not match never reaches it) and checked unchanged after.
//! A load also needs the memory it will take: [`memory_for`] refuses it,
//! with a clear error, when the box has less available than the models' size
//! times [`LOAD_FACTOR`] plus [`MEMORY_RESERVE_BYTES`].
//!
//! Without the `voice` feature [`Ear::load`] and [`Mouth::load`] answer
//! "built without voice" and nothing native is linked.

use super::{InferenceError, Worker, WorkerLimits};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whisper tiny.en converted for sherpa-onnx (`scripts/voice/whisper_ct2_to_sherpa.py`).
pub const STT_MODEL: &str = "whisper-tiny-en";
/// Silero voice-activity detection.
pub const VAD_MODEL: &str = "silero-vad";
/// The Piper voice the box answers with.
pub const TTS_MODEL: &str = "piper-en-us-joe-medium";

/// Files of [`STT_MODEL`].
pub const STT_FILES: [&str; 4] = [
    "encoder.onnx",
    "decoder.onnx",
    "tokens.txt",
    "tokenizer.json",
];
pub const VAD_FILE: &str = "silero_vad.onnx";
pub const TTS_FILES: [&str; 2] = ["voice.onnx", "voice.onnx.json"];

/// Memory a loaded model takes, as a multiple of its files' size (weights
/// unpacked to fp32 arrays, runtime arenas).
pub const LOAD_FACTOR: u64 = 3;
/// What must stay available to the rest of the box after a load.
pub const MEMORY_RESERVE_BYTES: u64 = 256 << 20;
/// The longest speech passed to Whisper (it takes at most 30 s).
pub const MAX_SPEECH_SECONDS: f32 = 28.0;

/// What the ear heard in a clip.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Heard {
    /// Trimmed, without Whisper's leading space; empty when no speech was found.
    pub text: String,
    /// Seconds of speech the voice-activity detector found.
    pub speech_seconds: f32,
    pub segments: usize,
    pub vad_ms: u64,
    pub stt_ms: u64,
    /// The free transcript's average log-probability per token (0 when nothing was transcribed).
    pub logprob: f32,
    /// The likeliest sentence of the grammar the ear was given, if any finished.
    pub guided: Option<Guess>,
}

/// A sentence of the grammar and how likely the model found it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Guess {
    /// Trimmed, as the model wrote it.
    pub text: String,
    /// Average log-probability per token.
    pub logprob: f32,
}

/// A spoken answer: 16-bit mono PCM.
#[derive(Debug, Clone, PartialEq)]
pub struct Spoken {
    pub samples: Vec<i16>,
    pub sample_rate: u32,
    pub tts_ms: u64,
}

impl Spoken {
    pub fn seconds(&self) -> f32 {
        self.samples.len() as f32 / self.sample_rate.max(1) as f32
    }
}

/// Where the model files are and how the workers run.
#[derive(Debug, Clone)]
pub struct SpeechSettings {
    /// The store the speech models are resolved from (see [`crate::models::ModelStore::resolve`]).
    pub data_dir: PathBuf,
    /// The directory that holds `espeak-ng-data` (Piper's phonemizer).
    pub espeak_data_dir: PathBuf,
    pub threads: usize,
    pub limits: WorkerLimits,
}

impl SpeechSettings {
    pub fn new(data_dir: &Path, espeak_data_dir: &Path) -> SpeechSettings {
        SpeechSettings {
            data_dir: data_dir.to_path_buf(),
            espeak_data_dir: espeak_data_dir.to_path_buf(),
            threads: 2,
            limits: WorkerLimits {
                queue_depth: 2,
                timeout: Duration::from_secs(60),
            },
        }
    }
}

/// Refuses a load of `bytes` of model files when the box would be left with
/// less than [`MEMORY_RESERVE_BYTES`] available (`available` as read from
/// the device; `None` when unknown, which allows the load).
pub fn memory_for(model: &str, bytes: u64, available: Option<u64>) -> Result<(), InferenceError> {
    let need = bytes.saturating_mul(LOAD_FACTOR);
    match available {
        Some(avail) if avail < need.saturating_add(MEMORY_RESERVE_BYTES) => Err(InferenceError::Load {
            model: model.to_string(),
            message: format!(
                "not enough memory: it needs about {} MiB and {} MiB must stay free, but only {} MiB are available",
                need >> 20,
                MEMORY_RESERVE_BYTES >> 20,
                avail >> 20
            ),
        }),
        _ => Ok(()),
    }
}

/// MemAvailable from /proc/meminfo, in bytes.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn not_built(model: &str) -> InferenceError {
    InferenceError::Load {
        model: model.to_string(),
        message: "this ojscog was built without the `voice` feature".into(),
    }
}

/// Voice-activity detection and speech-to-text, on one worker.
pub struct Ear {
    worker: Worker<backend::EarBackend>,
    model_id: String,
}

impl Ear {
    /// Loads (verified) the VAD and STT models from the store.
    pub fn load(settings: &SpeechSettings) -> Result<Ear, InferenceError> {
        if !cfg!(feature = "voice") {
            return Err(not_built(STT_MODEL));
        }
        let (backend, model_id) = backend::EarBackend::load(settings)?;
        let worker = Worker::start("speech-to-text", settings.limits, move || Ok(backend))?;
        Ok(Ear { worker, model_id })
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Finds the speech in `samples` (16 kHz mono) and transcribes it; with `grammar` (the commands' sentences,
    /// compiled for the model on first use), also finds the grammar's likeliest sentence.
    pub fn listen(
        &self,
        samples: Vec<f32>,
        grammar: Option<std::sync::Arc<super::guide::Sentences>>,
    ) -> Result<Heard, InferenceError> {
        self.worker
            .call(move |b| b.listen(samples, grammar.as_ref()))
    }
}

/// Text-to-speech with a Piper voice, on one worker.
pub struct Mouth {
    worker: Worker<backend::MouthBackend>,
    model_id: String,
}

impl Mouth {
    pub fn load(settings: &SpeechSettings) -> Result<Mouth, InferenceError> {
        if !cfg!(feature = "voice") {
            return Err(not_built(TTS_MODEL));
        }
        let (backend, model_id) = backend::MouthBackend::load(settings)?;
        let worker = Worker::start("text-to-speech", settings.limits, move || Ok(backend))?;
        Ok(Mouth { worker, model_id })
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Speaks `text` (at most a few sentences; longer text is cut at 600 characters).
    pub fn speak(&self, text: &str) -> Result<Spoken, InferenceError> {
        let text: String = text.chars().take(600).collect();
        self.worker.call(move |b| b.speak(&text))
    }
}

/// How much of the clip is kept on each side of a stretch the voice-activity detector marked as speech: Silero
/// marks the start of a word late, most of all on robotic voices (espeak-ng's "What is the status" was heard as
/// "Did Mustardus" from the cut segment), so the recogniser gets a little of the audio around it.
pub const VAD_PAD_SECONDS: f32 = 0.3;

/// The stretches of a clip of `total` samples to hear: each speech segment (`start`, `len`) widened by `pad` on both
/// sides, overlapping ones merged, in order.
pub fn padded_spans(segments: &[(usize, usize)], pad: usize, total: usize) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = segments
        .iter()
        .map(|&(start, len)| {
            (
                start.saturating_sub(pad).min(total),
                start.saturating_add(len).saturating_add(pad).min(total),
            )
        })
        .filter(|(a, b)| a < b)
        .collect();
    spans.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The span of `samples` (16 kHz) from 0.2 s before the first to 0.2 s after the last loud 30 ms frame, when at
/// least 0.15 s of frames are loud: well above the quietest frames (capped, so a steady loud clip counts) and above
/// an absolute level hiss stays under. The one energy test of voice (the fallback when Silero finds nothing, and
/// [`crate::voice::audio::has_speech`]).
pub fn loud_span(samples: &[f32]) -> Option<(usize, usize)> {
    const FRAME: usize = 480;
    let levels: Vec<f32> = samples
        .chunks(FRAME)
        .map(|f| (f.iter().map(|x| x * x).sum::<f32>() / f.len() as f32).sqrt())
        .collect();
    let mut sorted = levels.clone();
    sorted.sort_by(f32::total_cmp);
    let floor = *sorted.get(sorted.len() / 10)?;
    let threshold = (floor * 6.0).clamp(0.03, 0.1);
    let loud: Vec<usize> = (0..levels.len())
        .filter(|i| levels[*i] > threshold)
        .collect();
    if loud.len() * FRAME < 16_000usize * 15 / 100 {
        return None;
    }
    let pad = 16_000usize / 5;
    let start = (loud[0] * FRAME).saturating_sub(pad);
    let end = ((loud[loud.len() - 1] + 1) * FRAME + pad).min(samples.len());
    Some((start, end))
}

/// Floats in [-1, 1] to 16-bit PCM (clamped).
pub fn to_pcm16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
        .collect()
}

#[cfg(feature = "voice")]
#[path = "speech_native.rs"]
mod backend;

#[cfg(not(feature = "voice"))]
mod backend {
    //! Without the `voice` feature: types that cannot be built.
    use super::{Heard, InferenceError, SpeechSettings, Spoken};

    pub enum EarBackend {}
    pub enum MouthBackend {}

    impl EarBackend {
        pub fn load(_: &SpeechSettings) -> Result<(EarBackend, String), InferenceError> {
            Err(super::not_built(super::STT_MODEL))
        }
        pub fn listen(
            &mut self,
            _: Vec<f32>,
            _: Option<&std::sync::Arc<crate::inference::guide::Sentences>>,
        ) -> Result<Heard, InferenceError> {
            match *self {}
        }
    }

    impl MouthBackend {
        pub fn load(_: &SpeechSettings) -> Result<(MouthBackend, String), InferenceError> {
            Err(super::not_built(super::TTS_MODEL))
        }
        pub fn speak(&mut self, _: &str) -> Result<Spoken, InferenceError> {
            match *self {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_segments_are_widened_merged_and_kept_inside_the_clip() {
        assert_eq!(padded_spans(&[], 10, 100), vec![]);
        assert_eq!(padded_spans(&[(50, 10)], 10, 100), vec![(40, 70)]);
        // At the edges of the clip.
        assert_eq!(
            padded_spans(&[(5, 10), (90, 20)], 10, 100),
            vec![(0, 25), (80, 100)]
        );
        // Overlapping after widening: one stretch, in order whatever order they came in.
        assert_eq!(padded_spans(&[(40, 5), (20, 5)], 10, 100), vec![(10, 55)]);
        assert_eq!(
            padded_spans(&[(20, 5), (60, 5)], 10, 100),
            vec![(10, 35), (50, 75)]
        );
        // A segment past the end (a detector's off-by-one) is dropped, not a panic.
        assert_eq!(padded_spans(&[(200, 5)], 10, 100), vec![]);
    }

    #[test]
    fn a_load_that_would_leave_less_than_the_reserve_is_refused() {
        let mb = 1u64 << 20;
        assert!(memory_for("m", 100 * mb, None).is_ok());
        assert!(memory_for("m", 100 * mb, Some(2048 * mb)).is_ok());
        let e = memory_for("m", 100 * mb, Some(400 * mb))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not enough memory") && e.contains("300 MiB"),
            "{e}"
        );
    }

    #[test]
    fn a_short_loud_word_in_silence_is_found_and_hiss_is_not() {
        let mut x = vec![0.0005f32; 16_000];
        for (i, s) in x.iter_mut().enumerate().skip(8000).take(4000) {
            *s = 0.3 * (i as f32 * 0.07).sin();
        }
        let (a, b) = loud_span(&x).expect("the word");
        assert!((8000 - 3200 - 480..=8000).contains(&a), "{a}");
        assert!((12000..=12000 + 3200 + 480).contains(&b), "{b}");
        let hiss: Vec<f32> = (0..16_000)
            .map(|i| ((i * 7919 % 200) as f32 - 100.0) / 32768.0)
            .collect();
        assert_eq!(loud_span(&hiss), None);
        assert_eq!(loud_span(&[]), None);
    }

    #[test]
    fn pcm16_is_clamped() {
        assert_eq!(
            to_pcm16(&[0.0, 1.0, -1.0, 2.0, -3.0]),
            vec![0, 32767, -32767, 32767, -32767]
        );
    }
}
