//! Push-to-talk: one utterance from the box's microphone, cut where the
//! speaker stops.
//!
//! The microphone is opened only while someone talks (nothing runs, nothing
//! grows when nobody listens). Frames are read into one buffer of fixed
//! capacity, allocated when the [`Mic`] is made (`max_utterance_secs` of
//! 16 kHz samples): no allocation per frame, and the recording ends at that
//! length at the latest. The end of speech is found on 30 ms frames: after
//! the voice started, 0.8 s quieter than the speech threshold ends it; no
//! voice within 5 s ends it too. Audio is never written to disk.

use super::audio::SAMPLE_RATE;
use crate::system::alsa::{AlsaError, Pcm};

/// 30 ms at 16 kHz.
const FRAME: usize = 480;
/// Quiet after speech that ends the utterance.
const END_SILENCE_FRAMES: usize = 27; // 0.81 s
/// How long to wait for a voice at all.
const NO_VOICE_FRAMES: usize = 167; // 5 s

/// A microphone and its fixed recording buffer.
pub struct Mic {
    device: String,
    buf: Box<[i16]>,
}

/// What a recording held.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// 16 kHz mono, from the press to the end of speech.
    pub samples: Vec<f32>,
    /// Whether a voice was heard at all (by level).
    pub voiced: bool,
}

impl Mic {
    pub fn new(device: &str, max_seconds: u32) -> Mic {
        Mic {
            device: device.to_string(),
            buf: vec![0i16; SAMPLE_RATE as usize * max_seconds as usize].into_boxed_slice(),
        }
    }

    /// Records one utterance.
    pub fn record(&mut self) -> Result<Recording, AlsaError> {
        let mut pcm = Pcm::capture(&self.device, SAMPLE_RATE)?;
        let mut end = Endpoint::default();
        let mut filled = 0;
        while filled + FRAME <= self.buf.len() {
            let n = pcm.read(&mut self.buf[filled..filled + FRAME])?;
            if n == 0 {
                break;
            }
            let frame = &self.buf[filled..filled + n];
            filled += n;
            if end.push(level(frame)) {
                break;
            }
        }
        drop(pcm);
        Ok(Recording {
            samples: self.buf[..filled]
                .iter()
                .map(|s| f32::from(*s) / 32768.0)
                .collect(),
            voiced: end.voiced,
        })
    }
}

/// RMS level of a frame, 0..1.
fn level(frame: &[i16]) -> f32 {
    if frame.is_empty() {
        return 0.0;
    }
    let sum: f64 = frame
        .iter()
        .map(|s| (f64::from(*s) / 32768.0).powi(2))
        .sum();
    (sum / frame.len() as f64).sqrt() as f32
}

/// Decides, frame by frame, when an utterance is over.
#[derive(Debug, Default)]
struct Endpoint {
    frames: usize,
    floor: Option<f32>,
    voiced: bool,
    quiet_run: usize,
}

impl Endpoint {
    /// Takes the next frame's level; true when the utterance is over.
    fn push(&mut self, level: f32) -> bool {
        self.frames += 1;
        // The room's noise floor: the quietest of the frames so far.
        let floor = self.floor.map_or(level, |f| f.min(level));
        self.floor = Some(floor);
        let threshold = (floor * 3.0).max(0.01);
        if level > threshold {
            self.voiced = true;
            self.quiet_run = 0;
        } else {
            self.quiet_run += 1;
        }
        if self.voiced {
            self.quiet_run >= END_SILENCE_FRAMES
        } else {
            self.frames >= NO_VOICE_FRAMES
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_utterance_ends_after_quiet_following_speech() {
        let mut e = Endpoint::default();
        for _ in 0..10 {
            assert!(!e.push(0.001));
        }
        for _ in 0..30 {
            assert!(!e.push(0.2));
        }
        let mut frames = 0;
        while !e.push(0.001) {
            frames += 1;
            assert!(frames < 100);
        }
        assert_eq!(frames + 1, END_SILENCE_FRAMES);
        assert!(e.voiced);
    }

    #[test]
    fn no_voice_gives_up_after_five_seconds() {
        let mut e = Endpoint::default();
        let mut frames = 1;
        while !e.push(0.002) {
            frames += 1;
        }
        assert_eq!(frames, NO_VOICE_FRAMES);
        assert!(!e.voiced);
    }
}
