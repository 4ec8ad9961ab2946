//! Whisper's input: the log-mel spectrogram of 16 kHz audio, framed as
//! sherpa-onnx's front end (kaldi-native-fbank's Whisper features) frames it:
//! 400-sample frames every 160 samples, frame `t` centred on sample
//! `160 t + 80` (Kaldi's `snip_edges = false`, reflected at the ends), a
//! symmetric Hann window, power spectrum, and then as OpenAI's reference
//! (`whisper/audio.py`): 80 Slaney-normalised mel filters on the Slaney mel
//! scale (librosa's defaults), `log10` floored at 1e-10, clamped to 8 below
//! the utterance's maximum, then `(x + 4) / 4`. (Measured on the spoken test
//! set, this framing agrees with sherpa-onnx's transcripts more often than the
//! reference's `center = True` STFT does, and hears a little better.)
//!
//! Pure: samples in, an `n_mels × frames` row-major matrix out. The
//! recogniser pads it with zero frames as sherpa-onnx does (see
//! [`pad_frames`]).

use rustfft::num_complex::Complex32;
use rustfft::FftPlanner;

pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
pub const N_MELS: usize = 80;
/// Whisper's window: 30 s of frames.
pub const MAX_FRAMES: usize = 3000;
/// Frames of silence after the speech (sherpa-onnx's value), so Whisper sees where it ends.
pub const TAIL_FRAMES: usize = 1000;

/// The Slaney mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn logstep() -> f64 {
    (6.4f64).ln() / 27.0
}

fn hz_to_mel(f: f64) -> f64 {
    if f >= MIN_LOG_HZ {
        MIN_LOG_MEL + (f / MIN_LOG_HZ).ln() / logstep()
    } else {
        f / F_SP
    }
}

fn mel_to_hz(m: f64) -> f64 {
    if m >= MIN_LOG_MEL {
        MIN_LOG_HZ * (logstep() * (m - MIN_LOG_MEL)).exp()
    } else {
        F_SP * m
    }
}

/// librosa's `filters.mel(sr, n_fft, n_mels)`: `n_mels × (n_fft/2 + 1)`, row-major.
pub fn mel_filters(sr: usize, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..bins)
        .map(|k| k as f64 * sr as f64 / n_fft as f64)
        .collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(sr as f64 / 2.0));
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut w = vec![0f32; n_mels * bins];
    for i in 0..n_mels {
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - mel_f[i]) / (mel_f[i + 1] - mel_f[i]);
            let upper = (mel_f[i + 2] - f) / (mel_f[i + 2] - mel_f[i + 1]);
            w[i * bins + k] = (lower.min(upper).max(0.0) * enorm) as f32;
        }
    }
    w
}

/// Reflects index `i` (which may run past either end) into `0..n`, as numpy's `reflect` padding.
fn reflect(i: isize, n: usize) -> usize {
    if n < 2 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let mut j = i.rem_euclid(period);
    if j >= n as isize {
        j = period - j;
    }
    j as usize
}

/// The normalised log-mel spectrogram of `samples` (16 kHz mono): `N_MELS × frames`, row-major, with
/// `frames = (samples.len() + HOP / 2) / HOP` (at most [`MAX_FRAMES`]).
pub fn log_mel(samples: &[f32]) -> (Vec<f32>, usize) {
    let frames = ((samples.len() + HOP / 2) / HOP).min(MAX_FRAMES);
    if frames == 0 {
        return (Vec::new(), 0);
    }
    let bins = N_FFT / 2 + 1;
    let filters = mel_filters(SAMPLE_RATE, N_FFT, N_MELS);
    let window: Vec<f32> = (0..N_FFT)
        .map(|n| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * n as f32 / (N_FFT - 1) as f32).cos())
        .collect();
    let fft = FftPlanner::<f32>::new().plan_fft_forward(N_FFT);
    let mut buf = vec![Complex32::new(0.0, 0.0); N_FFT];
    let mut power = vec![0f32; bins];
    let mut out = vec![0f32; N_MELS * frames];
    // Frame t is centred on sample t * HOP + HOP / 2.
    let lead = (N_FFT / 2 - HOP / 2) as isize;
    for t in 0..frames {
        let start = (t * HOP) as isize - lead;
        for (n, c) in buf.iter_mut().enumerate() {
            let x = samples[reflect(start + n as isize, samples.len())];
            *c = Complex32::new(x * window[n], 0.0);
        }
        fft.process(&mut buf);
        for (p, c) in power.iter_mut().zip(&buf) {
            *p = c.norm_sqr();
        }
        for m in 0..N_MELS {
            let row = &filters[m * bins..(m + 1) * bins];
            let e: f32 = row.iter().zip(&power).map(|(a, b)| a * b).sum();
            out[m * frames + t] = e.max(1e-10).log10();
        }
    }
    let max = out.iter().copied().fold(f32::MIN, f32::max);
    for v in &mut out {
        *v = ((*v).max(max - 8.0) + 4.0) / 4.0;
    }
    (out, frames)
}

/// `mel` (`N_MELS × frames`) with [`TAIL_FRAMES`] zero frames after it, at most [`MAX_FRAMES`] in all; returns the
/// padded matrix and its frame count. The speech itself is cut to leave 50 frames of padding, as sherpa-onnx does.
pub fn pad_frames(mel: &[f32], frames: usize) -> (Vec<f32>, usize) {
    let keep = frames.min(MAX_FRAMES - 50);
    let total = (keep + TAIL_FRAMES).min(MAX_FRAMES);
    // An even count: the encoder's second convolution halves it.
    let total = total + total % 2;
    let mut out = vec![0f32; N_MELS * total];
    for m in 0..N_MELS {
        out[m * total..m * total + keep].copy_from_slice(&mel[m * frames..m * frames + keep]);
    }
    (out, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_filters_match_librosa_at_known_points() {
        // librosa.filters.mel(sr=16000, n_fft=400, n_mels=80): row 0 peaks at bin 1, row 79 ends at the top bins.
        let w = mel_filters(16_000, 400, 80);
        let bins = 201;
        assert_eq!(w.len(), 80 * bins);
        assert!((w[1] - 0.024_862_4).abs() < 1e-4, "row 0 bin 1 = {}", w[1]);
        assert_eq!(w[0], 0.0);
        assert!(w[79 * bins + 200] >= 0.0);
        // Every filter has some weight.
        for m in 0..80 {
            assert!(
                w[m * bins..(m + 1) * bins].iter().any(|&x| x > 0.0),
                "row {m} empty"
            );
        }
    }

    #[test]
    fn log_mel_of_a_tone_peaks_in_the_tone_s_band_and_is_normalised() {
        let tone: Vec<f32> = (0..16_000)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let (mel, frames) = log_mel(&tone);
        assert_eq!(frames, 100);
        let t = 50;
        let (best, _) = (0..N_MELS)
            .map(|m| (m, mel[m * frames + t]))
            .fold((0, f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
        // 1 kHz is mel 15 on the Slaney scale: band ~ 15 / (hz_to_mel(8000) / 81).
        let expect = (15.0 / (hz_to_mel(8000.0) / 81.0)).round() as usize;
        assert!(
            best.abs_diff(expect) <= 1,
            "peak band {best}, expected ~{expect}"
        );
        let max = mel.iter().copied().fold(f32::MIN, f32::max);
        let min = mel.iter().copied().fold(f32::MAX, f32::min);
        assert!(max <= 3.0 && min >= max - 2.0 - 1e-5, "range {min}..{max}");
    }

    #[test]
    fn padding_adds_the_tail_and_keeps_the_frames() {
        let mel: Vec<f32> = (0..N_MELS * 10).map(|i| i as f32).collect();
        let (p, total) = pad_frames(&mel, 10);
        assert_eq!(total, 1010);
        assert_eq!(p[total + 3], mel[10 + 3]);
        assert_eq!(p[total + 10], 0.0);
        let (_, total) = pad_frames(&vec![0.0; N_MELS * 2990], 2990);
        assert_eq!(total, MAX_FRAMES);
    }

    #[test]
    fn reflect_matches_numpy() {
        // numpy.pad([0,1,2,3], 2, 'reflect') = [2,1,0,1,2,3,2,1]
        let got: Vec<usize> = (-2..6).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, vec![2, 1, 0, 1, 2, 3, 2, 1]);
    }
}
