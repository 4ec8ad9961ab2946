//! Voice commands: what an editor asks the box, and its answer.
//!
//! The pipeline is audio → voice activity → speech-to-text → intent → answer →
//! text-to-speech. This module holds the part that needs no audio: the
//! commands as sentence templates per language ([`intents`], `en.toml`),
//! numbers said as words ([`numbers`]), and the answers, computed from the
//! store and the service's agents ([`answers`]). Decisions never write to
//! OJS: the box says what the editor has to confirm in OJS, and logs it.

pub mod answers;
pub mod audio;
pub mod intents;
pub mod numbers;

pub use answers::{answer, Answer};
pub use intents::{Grammar, Understood, THRESHOLD};

#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error("the command grammar is invalid: {0}")]
    Grammar(String),
}
