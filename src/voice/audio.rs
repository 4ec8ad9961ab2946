//! Audio in: a WAV (an upload, a file) checked and turned into what
//! speech-to-text takes — 16 kHz mono samples in [-1, 1] — within bounds:
//! at most [`MAX_BYTES`] and [`MAX_SECONDS`]; anything else is a clear error.
//! [`has_speech`] tells a silent clip from one with a voice in it.

use std::io::Cursor;

/// What speech-to-text takes.
pub const SAMPLE_RATE: u32 = 16_000;
/// The longest utterance taken.
pub const MAX_SECONDS: f32 = 30.0;
/// The largest upload read (30 s of 48 kHz stereo 32-bit, with room).
pub const MAX_BYTES: usize = 16 << 20;

/// A decoded clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// 16 kHz mono.
    pub samples: Vec<f32>,
    pub seconds: f32,
    pub source_rate: u32,
    pub source_channels: u16,
    /// Share of source samples at full scale (a clipped recording).
    pub clipped: f32,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AudioError {
    #[error("the upload is {bytes} bytes; at most {max} are taken")]
    TooLarge { bytes: usize, max: usize },
    #[error("the upload is empty")]
    Empty,
    #[error("not a WAV file: {0}")]
    NotWav(String),
    #[error("unsupported WAV: {0}")]
    Unsupported(String),
    #[error("the WAV file is cut short (its header promises more audio than it holds)")]
    Truncated,
    #[error("the recording is {seconds:.1} s long; at most {MAX_SECONDS} s are taken")]
    TooLong { seconds: f32 },
}

/// Decodes a WAV upload into 16 kHz mono.
pub fn decode_wav(bytes: &[u8]) -> Result<Clip, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    if bytes.len() > MAX_BYTES {
        return Err(AudioError::TooLarge {
            bytes: bytes.len(),
            max: MAX_BYTES,
        });
    }
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| match e {
        hound::Error::IoError(_) => AudioError::Truncated,
        hound::Error::Unsupported => AudioError::Unsupported("this sample format".into()),
        other => AudioError::NotWav(other.to_string()),
    })?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.channels > 8 {
        return Err(AudioError::Unsupported(format!(
            "{} channels",
            spec.channels
        )));
    }
    if !(4_000..=192_000).contains(&spec.sample_rate) {
        return Err(AudioError::Unsupported(format!(
            "a sample rate of {} Hz",
            spec.sample_rate
        )));
    }
    let frames = reader.duration() as usize;
    let seconds = frames as f32 / spec.sample_rate as f32;
    if seconds > MAX_SECONDS {
        return Err(AudioError::TooLong { seconds });
    }
    // The header's promise against the bytes there are.
    let data_bytes = frames * spec.channels as usize * (spec.bits_per_sample as usize).div_ceil(8);
    if data_bytes > bytes.len() {
        return Err(AudioError::Truncated);
    }
    let interleaved = read_samples(reader, spec)?;
    let ch = spec.channels as usize;
    let clipped = interleaved.iter().filter(|x| x.abs() >= 0.999).count() as f32
        / interleaved.len().max(1) as f32;
    let mono: Vec<f32> = interleaved
        .chunks_exact(ch)
        .map(|f| f.iter().sum::<f32>() / ch as f32)
        .collect();
    let samples = resample(&mono, spec.sample_rate, SAMPLE_RATE);
    Ok(Clip {
        seconds: samples.len() as f32 / SAMPLE_RATE as f32,
        samples,
        source_rate: spec.sample_rate,
        source_channels: spec.channels,
        clipped,
    })
}

fn read_samples(
    mut reader: hound::WavReader<Cursor<&[u8]>>,
    spec: hound::WavSpec,
) -> Result<Vec<f32>, AudioError> {
    let err = |e: hound::Error| match e {
        hound::Error::IoError(_) => AudioError::Truncated,
        other => AudioError::Unsupported(other.to_string()),
    };
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => reader
            .samples::<f32>()
            .map(|s| {
                s.map(|x| {
                    if x.is_finite() {
                        x.clamp(-1.0, 1.0)
                    } else {
                        0.0
                    }
                })
                .map_err(err)
            })
            .collect(),
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = (1i64 << (bits - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|x| x as f32 / scale).map_err(err))
                .collect()
        }
        (f, b) => Err(AudioError::Unsupported(format!("{b}-bit {f:?} samples"))),
    }
}

/// Resamples by linear interpolation, after averaging over the decimation
/// step when going down (a cheap low-pass, enough for speech).
pub fn resample(x: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || x.is_empty() {
        return x.to_vec();
    }
    let ratio = from as f64 / to as f64;
    let smoothed: Vec<f32> = if ratio > 1.0 {
        let w = ratio.round().max(1.0) as usize;
        (0..x.len())
            .map(|i| {
                let lo = i.saturating_sub(w / 2);
                let hi = (i + w.div_ceil(2)).min(x.len());
                x[lo..hi].iter().sum::<f32>() / (hi - lo) as f32
            })
            .collect()
    } else {
        x.to_vec()
    };
    let n = ((x.len() as f64) / ratio).floor() as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 * ratio;
            let k = t.floor() as usize;
            let frac = (t - k as f64) as f32;
            let a = smoothed[k.min(smoothed.len() - 1)];
            let b = smoothed[(k + 1).min(smoothed.len() - 1)];
            a + (b - a) * frac
        })
        .collect()
}

/// Whether the clip has a voice in it, by loudness
/// ([`crate::inference::speech::loud_span`]; the voice activity model comes with speech-to-text).
pub fn has_speech(clip: &Clip) -> bool {
    crate::inference::speech::loud_span(&clip.samples).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, channels: u16, bits: u16, float: bool, samples: &[f32]) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
            for s in samples {
                for _ in 0..channels {
                    if float {
                        w.write_sample(*s).unwrap();
                    } else {
                        let max = ((1i64 << (bits - 1)) - 1) as f32;
                        w.write_sample((s * max) as i32).unwrap();
                    }
                }
            }
            w.finalize().unwrap();
        }
        buf.into_inner()
    }

    fn tone(rate: u32, seconds: f32, amp: f32) -> Vec<f32> {
        (0..(rate as f32 * seconds) as usize)
            .map(|i| amp * (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin())
            .collect()
    }

    #[test]
    fn any_common_wav_becomes_16_khz_mono() {
        for (rate, ch, bits, float) in [
            (16_000, 1, 16, false),
            (8_000, 1, 16, false),
            (44_100, 2, 16, false),
            (48_000, 2, 24, false),
            (22_050, 1, 32, true),
            (16_000, 1, 8, false),
        ] {
            let clip = decode_wav(&wav(rate, ch, bits, float, &tone(rate, 1.0, 0.5))).unwrap();
            assert!(
                (clip.seconds - 1.0).abs() < 0.01,
                "{rate} {ch}: {}",
                clip.seconds
            );
            assert_eq!((clip.source_rate, clip.source_channels), (rate, ch));
            let peak = clip.samples.iter().fold(0f32, |m, x| m.max(x.abs()));
            assert!(
                (0.4..0.55).contains(&peak),
                "{rate} {ch} {bits}: peak {peak}"
            );
            assert!(has_speech(&clip), "{rate} {ch}");
        }
    }

    #[test]
    fn silence_has_no_speech_and_a_clipped_recording_says_so() {
        let silent = decode_wav(&wav(16_000, 1, 16, false, &vec![0.0; 16_000])).unwrap();
        assert!(!has_speech(&silent));
        let hiss: Vec<f32> = (0..16_000)
            .map(|i| ((i * 7919) % 13) as f32 * 0.0004)
            .collect();
        assert!(!has_speech(
            &decode_wav(&wav(16_000, 1, 16, false, &hiss)).unwrap()
        ));
        let loud = decode_wav(&wav(16_000, 1, 32, true, &tone(16_000, 1.0, 3.0))).unwrap();
        assert!(loud.clipped > 0.3, "{}", loud.clipped);
    }

    #[test]
    fn bad_uploads_get_a_clear_error() {
        assert_eq!(decode_wav(b""), Err(AudioError::Empty));
        assert!(matches!(
            decode_wav(b"GIF89a not a wav at all"),
            Err(AudioError::NotWav(_))
        ));
        let good = wav(16_000, 1, 16, false, &tone(16_000, 1.0, 0.5));
        assert_eq!(
            decode_wav(&good[..good.len() / 2]),
            Err(AudioError::Truncated)
        );
        assert_eq!(decode_wav(&good[..20]), Err(AudioError::Truncated));
        let long = wav(8_000, 1, 8, false, &vec![0.1; 8_000 * 31]);
        assert!(matches!(decode_wav(&long), Err(AudioError::TooLong { .. })));
        assert!(matches!(
            decode_wav(&vec![0u8; MAX_BYTES + 1]),
            Err(AudioError::TooLarge { .. })
        ));
    }
}
