//! Voice commands with real speech: Piper speaks a command, sherpa-onnx's
//! Silero VAD and Whisper hear it, the grammar understands it, the store
//! answers, Piper speaks the answer — through the library, the real binary
//! and the real HTTP server. Needs the voice models (scripts/fetch-models.sh)
//! and the `voice` feature; without the feature only the "built without
//! voice" answer is checked.

#[cfg(feature = "voice")]
use crate::support::web::{raw, raw_status};
use crate::support::web::{start_demo, ADMIN_TOKEN, READ_TOKEN};
use ojscog::voice::Desk;
#[cfg(feature = "voice")]
use ojscog::voice::Grammar;

#[cfg(feature = "voice")]
use ojscog::voice::desk::wav_bytes;

/// A scratch config whose models come from the developers' store.
fn desk_for(t: &crate::support::web::TestService) -> Desk {
    Desk::new(&t.service().ctx.config).expect("the desk starts")
}

#[cfg(not(feature = "voice"))]
#[test]
fn without_the_voice_feature_a_spoken_command_says_voice_is_not_built() {
    let t = start_demo();
    let desk = desk_for(&t);
    let e = desk.say("hello").unwrap_err().to_string();
    assert!(e.contains("without the `voice` feature"), "{e}");
}

#[cfg(feature = "voice")]
fn spoken(desk: &Desk, text: &str) -> Vec<u8> {
    let s = desk.say(text).unwrap_or_else(|e| {
        panic!("Piper cannot speak (run scripts/fetch-models.sh for the voice models): {e}")
    });
    assert!(s.seconds() > 0.3, "{text}: {} s of audio", s.seconds());
    wav_bytes(&s).expect("a WAV")
}

#[cfg(feature = "voice")]
#[test]
fn a_command_spoken_by_piper_is_heard_as_the_same_command_and_answered() {
    let t = start_demo();
    t.wait_for_index();
    let ctx = &t.service().ctx;
    let desk = desk_for(&t);
    let g = Grammar::english().unwrap();
    let now = ojscog::system::unix_now();
    let commands = [
        "What is overdue?",
        "Who should review submission twelve?",
        "How many submissions are waiting in review?",
        "What is the status of the sync?",
        "Summarize submission three.",
        "Help.",
    ];
    let mut heard_right = 0;
    for text in commands {
        let want = g.understand(text).expect("the text itself is understood");
        let spoke = desk
            .command_wav(ctx, &spoken(&desk, text), now)
            .expect("a spoken command is answered");
        let e = &spoke.exchange;
        let heard = e.heard.as_ref().expect("heard");
        assert!(
            heard.speech_seconds > 0.3 && heard.segments >= 1,
            "{text}: {heard:?}"
        );
        assert!(!e.answer.text.is_empty());
        // The spoken answer is a WAV of the answer.
        let wav = spoke.wav.as_ref().expect("a spoken answer");
        let clip = ojscog::voice::audio::decode_wav(wav).expect("the answer is a valid WAV");
        assert!(clip.seconds > 0.5, "{text}: answer of {} s", clip.seconds);
        if e.answer.intent.as_deref() == Some(want.intent.as_str()) && e.answer.slots == want.slots
        {
            heard_right += 1;
        } else {
            eprintln!(
                "{text:?} was heard as {:?} → {:?} {:?}",
                heard.text, e.answer.intent, e.answer.slots
            );
        }
    }
    assert!(
        heard_right >= commands.len() - 1,
        "{heard_right} of {} round trips kept intent and slots",
        commands.len()
    );
    // Every command was logged with what was heard and the timings.
    let db = rusqlite::Connection::open(t.store().path()).unwrap();
    let details: Vec<String> = db
        .prepare("SELECT detail FROM agent_execution_log WHERE agent = 'voice' ORDER BY id DESC")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        details.len() >= commands.len(),
        "{} voice runs logged",
        details.len()
    );
    let detail: serde_json::Value = serde_json::from_str(&details[0]).unwrap();
    assert!(detail["speech"]["heard"]["stt_ms"].is_number(), "{detail}");
    assert!(detail["speech"]["tts_ms"].is_number(), "{detail}");
    assert!(detail["transcript"].is_string(), "{detail}");
    // And counted.
    let understood = ctx.metrics.value(
        "ojscog_voice_commands_total",
        Some(&[("outcome", "understood")]),
    );
    assert!(understood >= heard_right as f64);
}

/// The recogniser's guided search usually finds some sentence of the grammar; speech that is not a command must
/// still be answered "I did not understand", because the grammar's sentence is far less likely than what the model
/// heard freely ([`ojscog::voice::desk::GUIDE_MARGIN`]).
#[cfg(feature = "voice")]
#[test]
fn speech_that_is_not_a_command_is_not_forced_into_one() {
    let t = start_demo();
    let ctx = &t.service().ctx;
    let desk = desk_for(&t);
    let now = ojscog::system::unix_now();
    for text in [
        "The weather in Paris is lovely this afternoon.",
        "My cat likes to sleep on the keyboard.",
        "Please send the invoice to the printer downstairs.",
    ] {
        let spoke = desk.command_wav(ctx, &spoken(&desk, text), now).unwrap();
        let e = &spoke.exchange;
        let heard = e.heard.as_ref().expect("heard");
        assert_eq!(
            e.answer.intent, None,
            "{text}: heard {heard:?}, answered {:?}",
            e.answer
        );
        assert!(
            e.answer.text.starts_with("I did not understand"),
            "{:?}",
            e.answer.text
        );
    }
}

#[cfg(feature = "voice")]
#[test]
fn bad_audio_gets_a_clear_error_and_silence_gets_a_clear_no_speech() {
    let t = start_demo();
    let ctx = &t.service().ctx;
    let desk = desk_for(&t);
    let now = ojscog::system::unix_now();
    let wav = |rate: u32, channels: u16, samples: &[i16]| {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
        for s in samples {
            w.write_sample(*s).unwrap();
        }
        w.finalize().unwrap();
        out.into_inner()
    };
    let err = |bytes: &[u8]| {
        desk.command_wav(ctx, bytes, now)
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(err(b"").as_deref(), Some("the upload is empty"));
    assert!(err(b"this is not audio at all, it is text")
        .unwrap()
        .starts_with("not a WAV file"));
    let speech = spoken(&desk, "What is overdue?");
    let truncated = &speech[..speech.len() / 2];
    assert!(
        err(truncated).unwrap().contains("cut short"),
        "{:?}",
        err(truncated)
    );
    let long = wav(8000, 1, &vec![0i16; 8000 * 40]);
    assert!(err(&long).unwrap().contains("at most 30 s"));

    // Silence and hiss: answered, with "no speech", and counted as such.
    for (name, samples) in [
        ("silence", vec![0i16; 16000 * 2]),
        (
            "hiss",
            (0..32000)
                .map(|i| ((i * 7919 % 200) as i16) - 100)
                .collect(),
        ),
    ] {
        let spoke = desk
            .command_wav(ctx, &wav(16000, 1, &samples), now)
            .expect(name);
        assert_eq!(spoke.exchange.answer.intent, None, "{name}");
        assert!(
            spoke
                .exchange
                .answer
                .text
                .starts_with("I did not hear anything"),
            "{name}"
        );
    }
    assert!(
        ctx.metrics.value(
            "ojscog_voice_commands_total",
            Some(&[("outcome", "no_speech")])
        ) >= 2.0
    );

    // 8 kHz, stereo and clipped recordings of real speech are still heard.
    let s = desk.say("What is overdue?").unwrap();
    let clip = ojscog::voice::audio::decode_wav(&wav_bytes(&s).unwrap()).unwrap();
    let pcm = |x: &[f32], gain: f32| -> Vec<i16> {
        x.iter()
            .map(|v| ((v * gain).clamp(-1.0, 1.0) * 32767.0) as i16)
            .collect()
    };
    let at8k = ojscog::voice::audio::resample(&clip.samples, 16000, 8000);
    let stereo: Vec<i16> = pcm(&clip.samples, 1.0)
        .iter()
        .flat_map(|s| [*s, *s])
        .collect();
    for (name, bytes) in [
        ("8 kHz", wav(8000, 1, &pcm(&at8k, 1.0))),
        ("stereo", wav(16000, 2, &stereo)),
        ("clipped", wav(16000, 1, &pcm(&clip.samples, 8.0))),
    ] {
        let spoke = desk.command_wav(ctx, &bytes, now).expect(name);
        assert_eq!(
            spoke.exchange.answer.intent.as_deref(),
            Some("overdue"),
            "{name}: heard {:?}",
            spoke.exchange.heard
        );
    }
}

#[cfg(feature = "voice")]
#[test]
fn post_api_voice_takes_a_wav_from_the_admin_and_answers_with_the_spoken_answer() {
    use base64::Engine;
    let t = start_demo();
    let desk = desk_for(&t);
    let wav = spoken(&desk, "What is overdue?");
    // The admin's role is needed: none → 401, the read token → 403.
    assert_eq!(t.post("/api/voice", None, &wav).status, 401);
    assert_eq!(t.post("/api/voice", Some(READ_TOKEN), &wav).status, 403);
    let r = t.post("/api/voice", Some(ADMIN_TOKEN), &wav);
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["intent"], "overdue", "{j}");
    assert!(
        j["transcript"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("overdue"),
        "{j}"
    );
    assert!(j["answer"].as_str().unwrap().contains("overdue"), "{j}");
    let answer = base64::engine::general_purpose::STANDARD
        .decode(j["answer_wav_base64"].as_str().expect("the spoken answer"))
        .unwrap();
    assert!(ojscog::voice::audio::decode_wav(&answer).unwrap().seconds > 0.5);
    // Bad audio: 400 with the reason.
    let r = t.post("/api/voice", Some(ADMIN_TOKEN), b"RIFF....WAVEnonsense");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.json()["error"].as_str().unwrap().contains("WAV"),
        "{}",
        r.body
    );
    // Larger than a spoken command can be: 413 before anything is decoded.
    let req = format!(
        "POST /api/voice HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Length: {}\r\n\r\n",
        7 << 20
    );
    let resp = raw(t.addr, req.as_bytes(), std::time::Duration::from_secs(5));
    assert_eq!(raw_status(&resp), Some(413), "{resp}");
    // The last exchanges, for a reader; on the status page too.
    let r = t.get("/api/voice");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["recent"][0]["answer"]["intent"],
        "overdue",
        "{}",
        r.body
    );
    let page = t.get_with("/", &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))]);
    assert!(
        page.body.contains(r#"id="voice-recent""#)
            && page.body.contains(r#"data-intent="overdue""#),
        "the card shows the exchange"
    );
    let metrics = t.get_anon("/metrics").body;
    assert!(
        metrics.contains(r#"ojscog_voice_commands_total{outcome="understood"}"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"ojscog_voice_stage_duration_seconds_bucket{stage="stt""#));
}

#[test]
fn a_typed_command_on_the_status_page_is_answered_on_the_page() {
    let t = start_demo();
    let r = t.post(
        "/voice",
        Some(ADMIN_TOKEN),
        b"text=how+many+submissions+are+waiting+in+review",
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = t.get_with("/", &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))]);
    assert!(
        page.body.contains(r#"data-intent="waiting_by_stage""#),
        "the typed command is on the card"
    );
    assert!(
        page.body.contains(r#"action="/voice""#),
        "the admin sees the form"
    );
    // The {reviewer} slot's values are the store's reviewers: an assignment is named, and left to OJS.
    let name = t.store().reviewers().unwrap()[0].name.clone();
    let family = name.split_whitespace().last().unwrap().to_string();
    let body = format!(
        "text=assign+{}+to+submission+three",
        family.replace(' ', "+")
    );
    assert_eq!(
        t.post("/voice", Some(ADMIN_TOKEN), body.as_bytes()).status,
        303
    );
    let r = t.get("/api/voice");
    let last = &r.json()["recent"][0]["answer"];
    assert_eq!(last["intent"], "decision", "{}", r.body);
    assert_eq!(last["slots"]["reviewer"], name.as_str(), "{}", r.body);
    assert!(
        last["text"].as_str().unwrap().contains("in OJS itself"),
        "{}",
        r.body
    );
    let r = t.post("/voice", Some(ADMIN_TOKEN), b"text=");
    assert_eq!(r.status, 400);
    assert_eq!(t.post("/voice", Some(READ_TOKEN), b"text=help").status, 403);
}

#[cfg(feature = "voice")]
#[test]
fn a_speech_model_whose_file_does_not_match_its_manifest_never_reaches_sherpa() {
    use ojscog::inference::speech::{Ear, SpeechSettings, STT_MODEL, VAD_MODEL};
    use ojscog::models::ModelStore;
    let dev = ModelStore::new(ModelStore::developer_root());
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    for name in [STT_MODEL, VAD_MODEL] {
        let m = dev
            .current(name)
            .expect("voice models installed (scripts/fetch-models.sh)");
        let version = m.manifest.version.clone();
        let to = models.join(name).join(&version);
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(m.dir.clone()).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
        }
        std::os::unix::fs::symlink(&version, models.join(name).join("current")).unwrap();
    }
    // One byte changed in the decoder.
    let decoder = models
        .join(STT_MODEL)
        .join(dev.current(STT_MODEL).unwrap().manifest.version)
        .join("decoder.onnx");
    let mut bytes = std::fs::read(&decoder).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 0x55;
    std::fs::write(&decoder, bytes).unwrap();
    let settings = SpeechSettings::new(
        dir.path(),
        std::path::Path::new(ojscog::config::default_espeak_dir()),
    );
    let e = Ear::load(&settings).err().expect("refused").to_string();
    assert!(e.contains("decoder.onnx"), "{e}");
}

/// An update (or a new `fetch-models`) that installs a speech model while the service runs takes effect on the next
/// command, without a restart; a model that did not change is not loaded again.
#[cfg(feature = "voice")]
#[test]
fn a_speech_model_installed_while_the_service_runs_is_used_from_the_next_command() {
    use ojscog::inference::speech::{VAD_FILE, VAD_MODEL};
    use ojscog::models::{ModelStore, SourceFile};
    use std::sync::Arc;
    let t = start_demo();
    let dir = tempfile::tempdir().unwrap();
    let mut config = t.service().ctx.config.clone();
    config.data_dir = dir.path().to_path_buf();
    let desk = Desk::new(&config).expect("the desk starts");
    let (ear, mouth) = (desk.ear().expect("loads"), desk.mouth().expect("loads"));
    assert!(Arc::ptr_eq(&ear, &desk.ear().unwrap()), "loaded once");
    // The box's own store gets silero-vad under a new version, as the update channel installs it.
    let vad = ModelStore::resolve(dir.path(), VAD_MODEL)
        .and_then(|s| s.current(VAD_MODEL))
        .expect("silero-vad installed (scripts/fetch-models.sh)");
    ModelStore::for_data_dir(dir.path())
        .install(
            VAD_MODEL,
            "6.2.3-update",
            "test",
            &[SourceFile {
                src: vad.path(VAD_FILE),
                dest: VAD_FILE.to_string(),
                expect_sha256: None,
            }],
        )
        .expect("installs");
    let new_ear = desk.ear().expect("the new model loads");
    assert!(!Arc::ptr_eq(&ear, &new_ear), "the ear was not reloaded");
    assert!(Arc::ptr_eq(&new_ear, &desk.ear().unwrap()));
    assert!(
        Arc::ptr_eq(&mouth, &desk.mouth().unwrap()),
        "the unchanged voice was reloaded"
    );
    // And it hears with the new model.
    let wav = spoken(&desk, "What is overdue?");
    let spoke = desk
        .command_wav(&t.service().ctx, &wav, 1_750_000_000)
        .expect("heard");
    assert_eq!(spoke.exchange.answer.intent.as_deref(), Some("overdue"));
}

#[test]
fn the_voice_cli_answers_a_wav_file_and_say_writes_one() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_ojscog");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .current_dir(dir.path())
            .env("OJSCOG_DATA_DIR", dir.path())
            .output()
            .expect("runs")
    };
    let out = run(&["say", "What is overdue?", "-o", "q.wav"]);
    if cfg!(not(feature = "voice")) {
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("without the `voice` feature"));
        return;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("q.wav").is_file());
    let out = run(&["voice", "--demo", "--json", "q.wav", "-o", "a.wav"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(j["answer"]["intent"], "overdue", "{j}");
    assert!(dir.path().join("a.wav").is_file());
    // Not a WAV: a clear error naming the file, non-zero exit.
    std::fs::write(dir.path().join("x.wav"), b"hello").unwrap();
    let out = run(&["voice", "--demo", "x.wav"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("x.wav") && err.contains("not a WAV"), "{err}");
}

/// ALSA's `file` plugin as the box's microphone (it plays a raw file as the capture stream) and speaker (it writes
/// what is played to a file): the real capture and playback path, with no sound card.
#[cfg(feature = "voice")]
#[test]
fn push_to_talk_records_from_the_microphone_answers_and_plays_the_answer_through_alsa() {
    let t = start_demo();
    let desk = desk_for(&t);
    let s = desk.say("What is overdue?").expect("Piper speaks");
    let clip = ojscog::voice::audio::decode_wav(&wav_bytes(&s).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let raw: Vec<u8> = clip
        .samples
        .iter()
        .flat_map(|x| (((x.clamp(-1.0, 1.0)) * 32767.0) as i16).to_le_bytes())
        .collect();
    let mic = dir.path().join("mic.raw");
    let speaker = dir.path().join("speaker.raw");
    std::fs::write(&mic, raw).unwrap();
    let conf = dir.path().join("asound.conf");
    std::fs::write(
        &conf,
        format!(
            "pcm.testmic {{ type file\n slave.pcm \"null\"\n file \"/dev/null\"\n infile \"{}\"\n format \"raw\" }}\n\
             pcm.testspk {{ type file\n slave.pcm \"null\"\n file \"{}\"\n format \"raw\" }}\n",
            mic.display(),
            speaker.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ojscog"))
        .args(["listen", "--demo", "--json"])
        .current_dir(dir.path())
        .env("OJSCOG_DATA_DIR", dir.path())
        .env("OJSCOG_VOICE_CAPTURE_DEVICE", "testmic")
        .env("OJSCOG_VOICE_PLAYBACK_DEVICE", "testspk")
        .env(
            "ALSA_CONFIG_PATH",
            format!("/usr/share/alsa/alsa.conf:{}", conf.display()),
        )
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(j["answer"]["intent"], "overdue", "{j}");
    // The recording stopped on the quiet after the words, long before the 10 s limit.
    let heard = j["heard"]["speech_seconds"].as_f64().unwrap();
    assert!(heard > 0.3 && heard < 5.0, "{j}");
    // The answer went to the speaker.
    let played = std::fs::metadata(&speaker).map(|m| m.len()).unwrap_or(0);
    assert!(played > 16_000, "{played} bytes played; {err}");
    // A device that does not exist: a clear error naming it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ojscog"))
        .args(["listen", "--demo"])
        .current_dir(dir.path())
        .env("OJSCOG_DATA_DIR", dir.path())
        .env("OJSCOG_VOICE_CAPTURE_DEVICE", "no-such-microphone")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-microphone"), "{err}");
}

#[test]
fn push_to_talk_without_a_microphone_says_so() {
    let t = start_demo();
    let r = t.post("/voice/listen", Some(ADMIN_TOKEN), b"");
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("no microphone"), "{}", r.body);
    let page = t.get_with("/", &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))]);
    assert!(
        !page.body.contains(r#"id="voice-listen""#),
        "no Listen button without a microphone"
    );
}
