//! `voice` and `say`: the voice pipeline without a microphone or speaker.

use anyhow::{Context, Result};
use ojscog::config::Config;
use ojscog::context::AppContext;
use ojscog::metrics::Metrics;
use ojscog::voice::Desk;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn context(cfg: &Config, demo: bool) -> Result<AppContext> {
    let store = crate::agents::agent_store(cfg, demo)?;
    let path = store.path().to_path_buf();
    drop(store);
    let status = ojscog::sync::SyncStatus::default();
    Ok(AppContext::new(
        cfg.clone(),
        path,
        Arc::new(Metrics::new()),
        ojscog::sync::SyncHandle::new(status),
    ))
}

/// `ojscog voice FILE.wav`: transcript, intent, slots and answer; the spoken answer to `--out`.
pub(crate) fn voice_cmd(
    cfg: Config,
    file: &Path,
    demo: bool,
    out: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let ctx = context(&cfg, demo)?;
    let desk = Desk::new(&cfg)?;
    let wav = read_bounded(file)?;
    let now = ojscog::system::unix_now();
    let spoke = desk
        .command_wav(&ctx, &wav, now)
        .with_context(|| format!("{}", file.display()))?;
    if let (Some(out), Some(wav)) = (&out, &spoke.wav) {
        write_file(out, wav)?;
    }
    print_exchange(&spoke.exchange, json)?;
    if out.is_none() && spoke.exchange.speech_note.is_none() {
        eprintln!("ojscog: spoken answer made (use -o FILE.wav to keep it)");
    }
    Ok(())
}

/// `ojscog listen`: one push-to-talk command from the configured microphone.
pub(crate) fn listen_cmd(cfg: Config, demo: bool, json: bool) -> Result<()> {
    let ctx = context(&cfg, demo)?;
    let desk = Desk::new(&cfg)?;
    eprintln!(
        "ojscog: listening on `{}`: speak now",
        cfg.voice.capture_device
    );
    let spoke = desk.listen(&ctx, ojscog::system::unix_now())?;
    print_exchange(&spoke.exchange, json)
}

fn print_exchange(e: &ojscog::voice::Exchange, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(e)?);
    } else {
        let heard = e.heard.as_ref().map(|h| h.text.as_str()).unwrap_or("");
        println!("heard:   {heard}");
        println!(
            "intent:  {} {}",
            e.answer.intent.as_deref().unwrap_or("(not understood)"),
            e.answer
                .slots
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        println!("answer:  {}", e.answer.text);
        if let Some(h) = &e.heard {
            println!(
                "timing:  vad {} ms, stt {} ms, tts {} ms, total {} ms ({:.1} s of speech)",
                h.vad_ms,
                h.stt_ms,
                e.tts_ms.map_or("-".to_string(), |t| t.to_string()),
                e.total_ms,
                h.speech_seconds
            );
        }
    }
    if let Some(note) = &e.speech_note {
        eprintln!("ojscog: no spoken answer: {note}");
    }
    Ok(())
}

/// `ojscog say "text" [-o out.wav]`.
pub(crate) fn say_cmd(cfg: Config, text: &str, out: Option<PathBuf>) -> Result<()> {
    let desk = Desk::new(&cfg)?;
    let spoken = desk.say(text)?;
    let wav = ojscog::voice::desk::wav_bytes(&spoken)?;
    let out = out.unwrap_or_else(|| PathBuf::from("say.wav"));
    write_file(&out, &wav)?;
    eprintln!(
        "ojscog: {:.1} s of speech in {} ms → {}",
        spoken.seconds(),
        spoken.tts_ms,
        out.display()
    );
    Ok(())
}

fn read_bounded(file: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut buf = Vec::new();
    f.take(ojscog::voice::audio::MAX_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {}", file.display()))?;
    Ok(buf)
}

/// Written whole or not at all: temp file, fsync, rename.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `ojscog eval voice DIR`: intent accuracy and word error rate on a spoken test set.
pub(crate) fn eval_voice_cmd(cfg: Config, dir: &Path, json: bool) -> Result<()> {
    let desk = Desk::new(&cfg)?;
    let report = ojscog::voice::testset::evaluate(&desk, dir)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for line in report.summary() {
        println!("{line}");
    }
    for o in report.outcomes.iter().filter(|o| !o.correct) {
        println!(
            "  miss {} [{}] {:?} heard {:?} -> {}",
            o.case.file,
            o.case.engine,
            o.case.text,
            o.heard,
            o.intent.as_deref().unwrap_or("(not understood)")
        );
    }
    Ok(())
}

/// `ojscog bench voice DIR`: STT and TTS real-time factors on the test set's Piper utterances, the time from the end
/// of speech to the start of the spoken answer, and peak RSS with every voice model loaded.
pub(crate) fn bench_voice_cmd(
    cfg: Config,
    dir: &Path,
    threads: usize,
    count: usize,
    json: bool,
) -> Result<()> {
    use ojscog::inference::speech::{Ear, Mouth, SpeechSettings};
    use std::time::Instant;
    let mut settings = SpeechSettings::new(&cfg.data_dir, &cfg.voice.espeak_data_dir);
    settings.threads = threads;
    let t = Instant::now();
    let ear = Ear::load(&settings)?;
    let mouth = Mouth::load(&settings)?;
    let load_ms = t.elapsed().as_millis();
    let grammar = ojscog::voice::Grammar::english()?;
    let cases: Vec<_> = ojscog::voice::testset::read_manifest(dir)?
        .into_iter()
        .filter(|c| c.engine.starts_with("piper") && !c.engine.ends_with("+noise"))
        .take(count.max(1))
        .collect();
    // One untimed warm-up of each.
    let first = std::fs::read(dir.join(&cases[0].file))?;
    let guide = grammar.guide();
    ear.listen(
        ojscog::voice::audio::decode_wav(&first)?.samples,
        Some(guide.clone()),
    )?;
    mouth.speak("Ready.")?;
    let (mut audio_s, mut stt_s, mut tts_audio_s, mut tts_s) = (0f64, 0f64, 0f64, 0f64);
    let mut free_s = 0f64;
    let mut latencies = Vec::new();
    for c in &cases {
        let clip = ojscog::voice::audio::decode_wav(&std::fs::read(dir.join(&c.file))?)?;
        audio_s += clip.seconds as f64;
        // Free transcription only (what the Python reference does), then the product's guided path.
        let tf = Instant::now();
        ear.listen(clip.samples.clone(), None)?;
        free_s += tf.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let heard = ear.listen(clip.samples, Some(guide.clone()))?;
        let stt = t0.elapsed().as_secs_f64();
        stt_s += stt;
        let t1 = Instant::now();
        let answer = match ojscog::voice::desk::understand_heard(&grammar, &heard).1 {
            Ok(u) => format!("You asked for {}.", u.intent.replace('_', " ")),
            Err(_) => "I did not understand.".to_string(),
        };
        // End of speech → start of the answer: the utterance recognised, understood, the answer synthesised whole
        // (Piper makes it in one piece before playback starts).
        mouth.speak(&answer)?;
        latencies.push(stt + t1.elapsed().as_secs_f64());
        let t2 = Instant::now();
        let spoken = mouth.speak(&c.text)?;
        tts_s += t2.elapsed().as_secs_f64();
        tts_audio_s += spoken.seconds() as f64;
    }
    latencies.sort_by(f64::total_cmp);
    let median = latencies[latencies.len() / 2];
    let p90 = latencies[(latencies.len() * 9 / 10).min(latencies.len() - 1)];
    let peak_rss = ojscog::system::peak_rss_bytes();
    let report = serde_json::json!({
        "utterances": cases.len(),
        "threads": threads,
        "stt_rtf": stt_s / audio_s,
        "stt_free_rtf": free_s / audio_s,
        "tts_rtf": tts_s / tts_audio_s,
        "answer_latency_median_s": median,
        "answer_latency_p90_s": p90,
        "load_ms": load_ms,
        "peak_rss_bytes": peak_rss,
        "stt_model": ear.model_id(),
        "tts_model": mouth.model_id(),
    });
    if json {
        println!("{report}");
    } else {
        println!(
            "ojscog voice bench: {} utterances ({:.1} s of speech), {threads} threads",
            cases.len(),
            audio_s
        );
        println!(
            "  speech-to-text (VAD + Whisper)  RTF {:.3} free, {:.3} with the grammar's guided search",
            free_s / audio_s,
            stt_s / audio_s
        );
        println!(
            "  text-to-speech (Piper)          RTF {:.3}",
            tts_s / tts_audio_s
        );
        println!("  end of speech -> answer starts  median {median:.2} s, p90 {p90:.2} s");
        println!(
            "  models loaded in {load_ms} ms; peak RSS {} MiB",
            peak_rss >> 20
        );
    }
    Ok(())
}
