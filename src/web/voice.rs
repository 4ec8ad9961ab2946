//! `/api/voice`: spoken commands over HTTP (a WAV in; transcript, intent,
//! slots, answer and the spoken answer out), the last exchanges, and the
//! status page's typed-command form (`POST /voice`).

use super::page::Page;
use super::{http, Handled, Reply};
use crate::context::AppContext;
use crate::voice::{Desk, VoiceError};
use base64::Engine;
use serde_json::json;

/// The largest WAV `POST /api/voice` reads (30 s of 44.1 kHz stereo 16-bit fits).
pub(crate) const MAX_UPLOAD_BYTES: usize = 6 << 20;

fn no_desk() -> Reply {
    Reply::error(503, "voice commands are not available on this box")
}

/// `GET /api/voice`: the last exchanges, newest first.
pub(crate) fn recent(desk: Option<&Desk>) -> Handled {
    let desk = desk.ok_or_else(no_desk)?;
    Ok(Reply::json(
        200,
        &json!({
            "recent": desk.recent(),
            "commands": desk.grammar().intents(),
        }),
    ))
}

/// `POST /api/voice` with a WAV body.
pub(crate) fn command(ctx: &AppContext, desk: Option<&Desk>, body: &[u8]) -> Handled {
    let desk = desk.ok_or_else(no_desk)?;
    let now = crate::system::unix_now();
    let spoke = desk.command_wav(ctx, body, now).map_err(|e| match e {
        VoiceError::Audio(a) => Reply::error(400, a.to_string()),
        VoiceError::Speech(
            crate::inference::InferenceError::Busy { .. }
            | crate::inference::InferenceError::Timeout { .. },
        ) => Reply::error(503, e.to_string()).with_header("Retry-After", "5"),
        other => Reply::error(503, other.to_string()),
    })?;
    let e = &spoke.exchange;
    Ok(Reply::json(
        200,
        &json!({
            "transcript": e.heard.as_ref().map(|h| h.text.clone()).unwrap_or_default(),
            "intent": e.answer.intent,
            "slots": e.answer.slots,
            "score": e.answer.score,
            "answer": e.answer.text,
            "heard": e.heard,
            "speech_note": e.speech_note,
            "tts_ms": e.tts_ms,
            "total_ms": e.total_ms,
            "answer_wav_base64": spoke.wav.as_ref().map(|w| base64::engine::general_purpose::STANDARD.encode(w)),
        }),
    ))
}

/// `POST /voice` (the status page's form, `text=…`): a typed command, answered on the page.
pub(crate) fn typed(ctx: &AppContext, desk: Option<&Desk>, body: &[u8]) -> Result<Reply, Page> {
    let bad = |message: String| Page {
        status: 400,
        heading: "Cannot take that command".into(),
        message,
        back: Some("/#voice".into()),
    };
    let Some(desk) = desk else {
        return Err(Page {
            status: 503,
            heading: "Voice commands are not available".into(),
            message: "This box has no voice commands.".into(),
            back: Some("/".into()),
        });
    };
    let form = std::str::from_utf8(body).map_err(|_| bad("the form is not UTF-8".into()))?;
    let params = http::parse_query(form).map_err(bad)?;
    let text = params
        .iter()
        .find(|(k, _)| k == "text")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    if text.is_empty() || text.chars().count() > 300 {
        return Err(bad(
            "type a command of 1 to 300 characters, for example \"what is overdue\"".into(),
        ));
    }
    desk.command_text(ctx, &text, crate::system::unix_now());
    Ok(super::page::actions::see_other("/#voice".into()))
}

/// `POST /voice/listen` (the card's push-to-talk): records from the box's microphone, answers, back to the card.
pub(crate) fn listen(ctx: &AppContext, desk: Option<&Desk>) -> Result<Reply, Page> {
    let page = |status: u16, heading: &str, message: String| Page {
        status,
        heading: heading.into(),
        message,
        back: Some("/#voice".into()),
    };
    let desk = desk.ok_or_else(|| {
        page(
            503,
            "Voice commands are not available",
            "This box has no voice commands.".into(),
        )
    })?;
    match desk.listen(ctx, crate::system::unix_now()) {
        Ok(_) => Ok(super::page::actions::see_other("/#voice".into())),
        Err(VoiceError::NoMicrophone) => Err(page(
            409,
            "No microphone",
            VoiceError::NoMicrophone.to_string(),
        )),
        Err(VoiceError::Busy) => Err(page(409, "Already listening", VoiceError::Busy.to_string())),
        Err(e) => Err(page(503, "Could not take the command", e.to_string())),
    }
}
