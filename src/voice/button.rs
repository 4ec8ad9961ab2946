//! The push-to-talk button at the box: a press records one command from the
//! microphone, answers it aloud and on the page ([`Desk::listen`]).
//!
//! One thread waits on the kernel's press events ([`crate::system::gpio`]);
//! presses made while a command is being heard or answered are thrown away,
//! not queued, so a nervous double press asks once. A line that cannot be
//! requested (wrong name, in use by another driver) is logged and tried again
//! every minute; the rest of the box runs on.

use super::Desk;
use crate::context::AppContext;
use crate::metrics::names::VOICE_BUTTON_PRESSES;
use crate::system::gpio::{Button, LineSpec};
use std::time::{Duration, Instant};

/// Debounce period of the button's contacts.
const DEBOUNCE: Duration = Duration::from_millis(30);
/// How often the wait looks at `stop`.
const TICK: Duration = Duration::from_millis(250);
/// How long to wait before requesting a line that could not be requested.
const RETRY: Duration = Duration::from_secs(60);

/// Serves the button configured in `[voice] button` until `stop()`.
pub fn run(desk: &Desk, ctx: &AppContext, stop: &dyn Fn() -> bool) {
    let voice = &ctx.config.voice;
    let spec = match LineSpec::parse(&voice.button) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "no push-to-talk button");
            return;
        }
    };
    ctx.metrics.inc(VOICE_BUTTON_PRESSES, &[], 0.0);
    while !stop() {
        match Button::open(&spec, voice.button_active_low, DEBOUNCE) {
            Ok(button) => {
                tracing::info!(line = %button.describe(), "push-to-talk button ready");
                if let Err(e) = serve(button, desk, ctx, stop) {
                    tracing::error!(error = %e, "push-to-talk button failed");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot use the push-to-talk button; trying again in a minute")
            }
        }
        let since = Instant::now();
        while !stop() && since.elapsed() < RETRY {
            std::thread::sleep(TICK);
        }
    }
}

fn serve(
    mut button: Button,
    desk: &Desk,
    ctx: &AppContext,
    stop: &dyn Fn() -> bool,
) -> Result<(), crate::system::gpio::GpioError> {
    while !stop() {
        let Some(press) = button.wait_press(TICK)? else {
            continue;
        };
        ctx.metrics.inc(VOICE_BUTTON_PRESSES, &[], 1.0);
        tracing::info!(press = press.seqno, "push-to-talk: listening");
        match desk.listen(ctx, crate::system::unix_now()) {
            Ok(spoke) => tracing::info!(
                heard = %spoke.exchange.answer.transcript,
                intent = spoke.exchange.answer.intent.as_deref().unwrap_or("-"),
                answer = %spoke.exchange.answer.text,
                "push-to-talk: answered"
            ),
            Err(e) => tracing::warn!(error = %e, "push-to-talk: no command"),
        }
        let dropped = button.drain()?;
        if dropped > 0 {
            tracing::info!(
                dropped,
                "push-to-talk: presses during the command were ignored"
            );
        }
    }
    Ok(())
}
