//! Voice commands: what an editor asks the box, and its answer.
//!
//! The pipeline is audio → voice activity → speech-to-text → intent → answer →
//! text-to-speech, run by the [`desk::Desk`]: WAV in ([`audio`]: checked,
//! bounded, made 16 kHz mono), the speech models on their workers
//! ([`crate::inference::speech`]), the commands as sentence templates per
//! language ([`intents`], `en.toml`; parsed by `template`), numbers said as words ([`numbers`]), and
//! the answers, computed from the store and the service's agents
//! ([`answers`]). Push-to-talk is a button on the page, a GPIO button at the
//! box ([`button`]) or the CLI; the microphone is read by [`capture`].
//! Decisions never write to OJS: the box says what the editor has to confirm
//! in OJS, and logs it.

pub mod answers;
pub mod audio;
pub mod button;
pub mod capture;
pub mod desk;
pub mod intents;
pub mod numbers;
mod template;
pub mod testset;

pub use answers::{answer, Answer};
pub use desk::{Desk, Exchange, Spoke};
pub use intents::{Grammar, Understanding, Understood, THRESHOLD};

#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error("the command grammar is invalid: {0}")]
    Grammar(String),
    #[error(transparent)]
    Audio(#[from] audio::AudioError),
    #[error(transparent)]
    Speech(#[from] crate::inference::InferenceError),
    #[error("the speech models are not ready: {0}")]
    NotReady(String),
    #[error("voice test set: {0}")]
    TestSet(String),
    #[error("this box has no microphone configured ([voice] capture_device)")]
    NoMicrophone,
    #[error("the microphone is already recording a command")]
    Busy,
    #[error(transparent)]
    Device(#[from] crate::system::alsa::AlsaError),
}
