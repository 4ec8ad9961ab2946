//! The status page's voice card: the last commands said (or typed) at the box,
//! what was heard, the intent, and the answer; for the admin, a box to type a
//! command (the same answers, without a microphone).

use crate::voice::Desk;
use crate::web::auth::Role;
use crate::web::format::escape;
use std::fmt::Write as _;

pub(super) fn voice_card(h: &mut String, desk: Option<&Desk>, role: Role) {
    h.push_str(r#"<section class="card" id="voice"><h2>Voice commands</h2>"#);
    let Some(desk) = desk else {
        h.push_str(r#"<p class="muted">Voice commands are off on this box.</p></section>"#);
        return;
    };
    let recent = desk.recent();
    if recent.is_empty() {
        h.push_str(r#"<p class="muted" id="voice-none">No commands yet. Ask the box, for example: “what is overdue?”</p>"#);
    } else {
        h.push_str(r#"<ol class="voice-log" id="voice-recent">"#);
        for e in &recent {
            let said = e
                .heard
                .as_ref()
                .map(|x| x.text.as_str())
                .unwrap_or(e.answer.transcript.as_str());
            let how = if e.heard.is_some() { "heard" } else { "typed" };
            let intent = e.answer.intent.as_deref().unwrap_or("not understood");
            let _ = write!(
                h,
                r#"<li data-intent="{intent_attr}"><div><span class="muted">{how}:</span> “{said}” <span class="muted">({intent})</span></div><div>{answer}</div></li>"#,
                intent_attr = escape(intent),
                how = how,
                said = escape(said),
                intent = escape(intent),
                answer = escape(&e.answer.text),
            );
        }
        h.push_str("</ol>");
    }
    if role == Role::Admin && desk.has_microphone() {
        h.push_str(r#"<form method="post" action="/voice/listen" class="actions"><button type="submit" class="primary" id="voice-listen">Listen (speak after pressing)</button></form>"#);
    }
    if role == Role::Admin {
        h.push_str(r#"<form method="post" action="/voice" class="actions"><label for="voice-text">Type a command</label> <input type="text" id="voice-text" name="text" maxlength="300" placeholder="what is overdue"> <button type="submit">Ask</button></form>"#);
    }
    h.push_str("</section>\n");
}
