//! The native speech backends (the `voice` feature): sherpa-onnx for VAD,
//! Whisper on ONNX Runtime for STT ([`crate::inference::whisper`]), piper-rs
//! for TTS. Only this file touches sherpa-rs and piper-rs.

use super::{
    available_memory, loud_span, memory_for, padded_spans, to_pcm16, Guess, Heard, SpeechSettings,
    Spoken, MAX_SPEECH_SECONDS, STT_FILES, STT_MODEL, TTS_FILES, TTS_MODEL, VAD_FILE, VAD_MODEL,
    VAD_PAD_SECONDS,
};
use crate::inference::guide::Sentences;
use crate::inference::whisper::Whisper;
use crate::inference::InferenceError;
use crate::models::{ModelStore, VerifiedModel};
use sherpa_rs::silero_vad::{SileroVad, SileroVadConfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

const RATE: u32 = 16_000;

fn verified(settings: &SpeechSettings, name: &str) -> Result<VerifiedModel, InferenceError> {
    let store = ModelStore::resolve(&settings.data_dir, name)?;
    Ok(store.verified(name)?)
}

fn size_of(m: &VerifiedModel) -> u64 {
    m.manifest().files.iter().map(|f| f.size).sum()
}

fn run_error(model: &str, message: impl std::fmt::Display) -> InferenceError {
    InferenceError::Run {
        model: model.to_string(),
        message: message.to_string(),
    }
}

fn path_str(model: &str, p: PathBuf) -> Result<String, InferenceError> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| InferenceError::Load {
            model: model.to_string(),
            message: format!("{} is not a UTF-8 path", p.display()),
        })
}

pub struct EarBackend {
    whisper: Whisper,
    vad_model: String,
    vad: VerifiedModel,
}

impl EarBackend {
    pub fn load(settings: &SpeechSettings) -> Result<(EarBackend, String), InferenceError> {
        let stt = verified(settings, STT_MODEL)?;
        let vad = verified(settings, VAD_MODEL)?;
        memory_for(STT_MODEL, size_of(&stt) + size_of(&vad), available_memory())?;
        for f in STT_FILES {
            if stt.file(f).is_none() {
                return Err(InferenceError::Load {
                    model: STT_MODEL.into(),
                    message: format!("its manifest has no {f}"),
                });
            }
        }
        if vad.file(VAD_FILE).is_none() {
            return Err(InferenceError::Load {
                model: VAD_MODEL.into(),
                message: format!("its manifest has no {VAD_FILE}"),
            });
        }
        let ort_store = ModelStore::resolve(&settings.data_dir, crate::models::ONNXRUNTIME)?;
        let lib = crate::inference::embed::ort_dylib_path(&ort_store)?;
        crate::inference::embed::init_ort(&lib)?;
        let whisper = Whisper::load(
            STT_MODEL,
            &stt.path("encoder.onnx"),
            &stt.path("decoder.onnx"),
            &stt.path("tokens.txt"),
            &stt.path("tokenizer.json"),
            settings.threads,
        )?;
        stt.check_unchanged()?;
        let vad_model = path_str(VAD_MODEL, vad.path(VAD_FILE))?;
        let id = format!("{}@{}", STT_MODEL, stt.manifest().version);
        let backend = EarBackend {
            whisper,
            vad_model,
            vad,
        };
        // One detector per utterance (it keeps state); make one now to fail early.
        backend.detector()?;
        Ok((backend, id))
    }

    fn detector(&self) -> Result<SileroVad, InferenceError> {
        // The file was verified at load; refuse one that changed since (sherpa-onnx reads it again).
        self.vad.check_unchanged()?;
        let config = SileroVadConfig {
            model: self.vad_model.clone(),
            threshold: 0.5,
            min_silence_duration: 0.4,
            min_speech_duration: 0.15,
            max_speech_duration: MAX_SPEECH_SECONDS,
            sample_rate: RATE,
            window_size: 512,
            num_threads: Some(1),
            provider: Some("cpu".into()),
            debug: false,
        };
        SileroVad::new(config, MAX_SPEECH_SECONDS + 2.0).map_err(|e| InferenceError::Load {
            model: VAD_MODEL.into(),
            message: e.to_string(),
        })
    }

    pub fn listen(
        &mut self,
        samples: Vec<f32>,
        grammar: Option<&Arc<Sentences>>,
    ) -> Result<Heard, InferenceError> {
        let t0 = Instant::now();
        let mut vad = self.detector()?;
        let mut found: Vec<(usize, usize)> = Vec::new();
        let take = |vad: &mut SileroVad, found: &mut Vec<(usize, usize)>| {
            while !vad.is_empty() {
                let seg = vad.front();
                vad.pop();
                found.push((seg.start.max(0) as usize, seg.samples.len()));
            }
        };
        for chunk in samples.chunks(512) {
            vad.accept_waveform(chunk.to_vec());
            take(&mut vad, &mut found);
        }
        vad.flush();
        take(&mut vad, &mut found);
        // The segments with a little of the clip around them, a fifth of a second of quiet between, at most `max`.
        let max = (MAX_SPEECH_SECONDS * RATE as f32) as usize;
        let pad = (VAD_PAD_SECONDS * RATE as f32) as usize;
        let gap = RATE as usize / 5;
        let mut speech: Vec<f32> = Vec::new();
        let mut segments = 0;
        for (a, b) in padded_spans(&found, pad, samples.len()) {
            if speech.len() >= max {
                break;
            }
            if !speech.is_empty() {
                speech.extend(std::iter::repeat_n(0f32, gap));
            }
            let room = max.saturating_sub(speech.len());
            speech.extend(samples[a..b].iter().take(room));
            segments += 1;
        }
        if speech.is_empty() {
            // Silero can miss a lone short word ("help"): take the loud part of the clip when there clearly is one.
            if let Some((a, b)) = loud_span(&samples) {
                speech.extend_from_slice(&samples[a..b.min(a + max)]);
                segments = 1;
            }
        }
        let vad_ms = t0.elapsed().as_millis() as u64;
        let speech_seconds = speech.len() as f32 / RATE as f32;
        if speech.is_empty() {
            return Ok(Heard {
                text: String::new(),
                speech_seconds: 0.0,
                segments: 0,
                vad_ms,
                stt_ms: 0,
                logprob: 0.0,
                guided: None,
            });
        }
        // Whisper hears the start of a word better with a little silence before it.
        let mut padded = vec![0f32; RATE as usize / 4];
        padded.extend_from_slice(&speech);
        padded.extend(std::iter::repeat_n(0f32, RATE as usize / 4));
        let t1 = Instant::now();
        let result = self.whisper.transcribe(&padded, grammar)?;
        let stt_ms = t1.elapsed().as_millis() as u64;
        Ok(Heard {
            text: result.text.trim().to_string(),
            speech_seconds,
            segments,
            vad_ms,
            stt_ms,
            logprob: result.logprob,
            guided: result.guided.map(|g| Guess {
                text: g.text.trim().to_string(),
                logprob: g.logprob,
            }),
        })
    }
}

pub struct MouthBackend {
    piper: piper_rs::Piper,
}

impl MouthBackend {
    pub fn load(settings: &SpeechSettings) -> Result<(MouthBackend, String), InferenceError> {
        let tts = verified(settings, TTS_MODEL)?;
        memory_for(TTS_MODEL, size_of(&tts), available_memory())?;
        for f in TTS_FILES {
            if tts.file(f).is_none() {
                return Err(InferenceError::Load {
                    model: TTS_MODEL.into(),
                    message: format!("its manifest has no {f}"),
                });
            }
        }
        let dir = crate::config::espeak_dir_for_piper(&settings.espeak_data_dir);
        let data = dir.join("espeak-ng-data");
        if !data.join("phontab").is_file() {
            return Err(InferenceError::Load {
                model: TTS_MODEL.into(),
                message: format!(
                    "espeak-ng data not found at {} (install Debian's espeak-ng-data, or set [voice] espeak_data_dir or {})",
                    data.display(),
                    crate::config::ESPEAK_ENV
                ),
            });
        }
        let ort_store = ModelStore::resolve(&settings.data_dir, crate::models::ONNXRUNTIME)?;
        let lib = crate::inference::embed::ort_dylib_path(&ort_store)?;
        crate::inference::embed::init_ort(&lib)?;
        let config_file =
            std::fs::File::open(tts.path("voice.onnx.json")).map_err(|e| InferenceError::Load {
                model: TTS_MODEL.into(),
                message: format!("voice.onnx.json: {e}"),
            })?;
        let config: piper_rs::ModelConfig =
            serde_json::from_reader(std::io::BufReader::new(config_file)).map_err(|e| {
                InferenceError::Load {
                    model: TTS_MODEL.into(),
                    message: format!("voice.onnx.json: {e}"),
                }
            })?;
        let session =
            crate::inference::embed::ort_session(&tts.path("voice.onnx"), settings.threads)
                .map_err(|message| InferenceError::Load {
                    model: TTS_MODEL.into(),
                    message,
                })?;
        tts.check_unchanged()?;
        let piper = piper_rs::Piper::from_session(session, config);
        let id = format!("{}@{}", TTS_MODEL, tts.manifest().version);
        Ok((MouthBackend { piper }, id))
    }

    pub fn speak(&mut self, text: &str) -> Result<Spoken, InferenceError> {
        let t0 = Instant::now();
        let text = text.trim();
        if text.is_empty() {
            return Err(run_error(TTS_MODEL, "nothing to say"));
        }
        let (samples, rate) = self
            .piper
            .create(text, false, None, None, None, None)
            .map_err(|e| run_error(TTS_MODEL, e))?;
        Ok(Spoken {
            samples: to_pcm16(&samples),
            sample_rate: rate,
            tts_ms: t0.elapsed().as_millis() as u64,
        })
    }
}
