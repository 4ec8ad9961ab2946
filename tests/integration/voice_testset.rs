//! The spoken test set (scripts/voice/testset.sh: Piper and espeak-ng voices,
//! speeds, pitches, noise; 204 utterances, 48 of them held out from template
//! tuning) through the real ear and grammar, as a command at the box (free
//! transcript, then the grammar-guided search, then slots the guided sentence
//! lost taken from the free transcript): intent accuracy and word error rate,
//! reported per split and per voice. The generator is repeatable (seeded
//! noise in Piper and sox), so a fresh machine measures the same set. The
//! floors here guard against regressions; they are the measured numbers less
//! about one utterance (measured 96.6 % all, 100 % Piper, 93.1 % espeak-ng,
//! 93.8 % held out; other CPUs round int8 arithmetic a little differently).
//! The goal, 95 % over the set, is the floor for the whole set; espeak-ng's
//! robotic voices alone stay under it (see the README's Voice section).

#[cfg(feature = "voice")]
#[test]
fn the_spoken_test_set_is_understood_as_well_as_last_measured() {
    let dir = std::env::var_os("OJSCOG_VOICE_TESTSET").map(std::path::PathBuf::from).expect(
        "OJSCOG_VOICE_TESTSET is not set: run scripts/voice/testset.sh and point it at the directory it prints \
         (scripts/test does)",
    );
    assert!(
        dir.join("manifest.tsv").is_file(),
        "no test set at {}",
        dir.display()
    );
    let t = crate::support::web::start_demo();
    let desk = ojscog::voice::Desk::new(&t.service().ctx.config).unwrap();
    let r = ojscog::voice::testset::evaluate(&desk, &dir).expect("the test set runs");
    for line in r.summary() {
        eprintln!("voice test set: {line}");
    }
    // How the margin between the guided sentence and the free transcript was chosen: the smallest that reaches the
    // tune split's plateau (2.0: 152 of 156; 1.0: 149; no limit: 152), so that speech which is not a command can
    // still be refused. Printed per split; the held-out split never chose it.
    for margin in [1.0f32, 2.0, 3.0, 100.0] {
        let mut right = std::collections::BTreeMap::<String, (usize, usize)>::new();
        for o in &r.outcomes {
            let heard = ojscog::inference::speech::Heard {
                text: o.heard.clone(),
                speech_seconds: 1.0,
                segments: 1,
                vad_ms: 0,
                stt_ms: 0,
                logprob: o.logprob,
                guided: o.guided.clone(),
            };
            let (_, understood) =
                ojscog::voice::desk::understand_heard_with(desk.grammar(), &heard, margin);
            let ok = match understood {
                Ok(u) => u.intent == o.case.intent && u.slots == o.case.slots,
                Err(_) => false,
            };
            let e = right.entry(o.case.split.clone()).or_default();
            e.0 += usize::from(ok);
            e.1 += 1;
        }
        eprintln!("margin {margin}: {right:?}");
    }
    for o in r.outcomes.iter().filter(|o| !o.correct) {
        eprintln!(
            "missed {} ({}): said {:?}, heard {:?} ({:.2}), guided {:?}, understood from {:?} as {:?} {:?}",
            o.case.file,
            o.case.engine,
            o.case.text,
            o.heard,
            o.logprob,
            o.guided,
            o.understood_from,
            o.intent,
            o.slots
        );
    }
    assert!(r.all.cases >= 200, "{} utterances", r.all.cases);
    assert!(r.by_split["heldout"].cases >= 40);
    let piper = &r.by_voice["piper"];
    assert!(
        piper.accuracy() >= 0.98,
        "Piper's voice: {:.3}",
        piper.accuracy()
    );
    assert!(piper.wer() <= 0.10, "Piper's voice WER {:.3}", piper.wer());
    assert!(r.all.accuracy() >= 0.95, "all: {:.3}", r.all.accuracy());
    let espeak = &r.by_voice["espeak"];
    assert!(
        espeak.accuracy() >= 0.92,
        "espeak-ng: {:.3}",
        espeak.accuracy()
    );
    assert!(
        r.by_split["heldout"].accuracy() >= 0.91,
        "held out: {:.3}",
        r.by_split["heldout"].accuracy()
    );
}

/// Our Whisper loop (log-mel front end, ONNX Runtime, greedy decoding) against sherpa-onnx's own Whisper on the
/// same model files and the same samples: on Piper's natural voice the free transcripts agree word for word
/// (after normalisation) at least 90 % of the time, and over both voices our word error rate is no worse than
/// sherpa-onnx's plus two points. (On espeak-ng's robotic voices the two mishear differently: the front ends
/// differ in detail, kaldi-native-fbank's framing against OpenAI's reference STFT, and so do the ONNX Runtimes.)
#[cfg(feature = "voice")]
#[test]
fn our_whisper_loop_transcribes_like_sherpa_onnx_s_whisper() {
    use ojscog::models::ModelStore;
    use ojscog::voice::intents::normalize;
    let dir = std::path::PathBuf::from(
        std::env::var_os("OJSCOG_VOICE_TESTSET")
            .expect("OJSCOG_VOICE_TESTSET is not set (scripts/test sets it)"),
    );
    let root = ModelStore::developer_root();
    let stt = ModelStore::new(&root)
        .verified(ojscog::inference::speech::STT_MODEL)
        .expect("whisper-tiny-en installed (scripts/fetch-models.sh)");
    let path = |f: &str| stt.path(f).to_string_lossy().into_owned();
    let mut sherpa =
        sherpa_rs::whisper::WhisperRecognizer::new(sherpa_rs::whisper::WhisperConfig {
            encoder: path("encoder.onnx"),
            decoder: path("decoder.onnx"),
            tokens: path("tokens.txt"),
            language: "en".into(),
            num_threads: Some(2),
            provider: Some("cpu".into()),
            ..Default::default()
        })
        .expect("sherpa-onnx loads the model");
    let mut ours = our_whisper(&stt, 2);
    let cases = ojscog::voice::testset::read_manifest(&dir).unwrap();
    let (mut same, mut n) = (0, 0);
    let (mut piper_same, mut piper_n) = (0, 0);
    let (mut their_errors, mut our_errors, mut words) = (0, 0, 0);
    for c in cases.iter().step_by(3) {
        let clip =
            ojscog::voice::audio::decode_wav(&std::fs::read(dir.join(&c.file)).unwrap()).unwrap();
        // Both on the same samples: the whole clip with the ear's quarter second of silence around it.
        let mut padded = vec![0f32; 4000];
        padded.extend_from_slice(&clip.samples);
        padded.extend(std::iter::repeat_n(0f32, 4000));
        let theirs = sherpa.transcribe(16_000, &padded).text;
        let ours = ours.transcribe(&padded, None).unwrap().text;
        n += 1;
        let reference = normalize(&c.text);
        their_errors += ojscog::voice::testset::word_errors(&reference, &normalize(&theirs));
        our_errors += ojscog::voice::testset::word_errors(&reference, &normalize(&ours));
        words += reference.len();
        let piper = c.engine.starts_with("piper");
        piper_n += usize::from(piper);
        if normalize(&theirs) == normalize(&ours) {
            same += 1;
            piper_same += usize::from(piper);
        } else {
            eprintln!("differ on {}: sherpa {theirs:?}, ours {ours:?}", c.file);
        }
    }
    let (theirs, ours) = (
        their_errors as f64 / words as f64,
        our_errors as f64 / words as f64,
    );
    eprintln!(
        "whisper parity: {same}/{n} transcripts the same ({piper_same}/{piper_n} Piper); WER sherpa-onnx {theirs:.3}, ours {ours:.3}"
    );
    assert!(n >= 25 && piper_n >= 10, "{n} clips, {piper_n} Piper");
    assert!(
        piper_same * 10 >= piper_n * 9,
        "only {piper_same} of {piper_n} Piper transcripts agree with sherpa-onnx"
    );
    assert!(
        ours <= theirs + 0.02,
        "WER: ours {ours:.3}, sherpa-onnx {theirs:.3}"
    );
}

/// The commands' grammar compiled over Whisper's own tokens accepts each command as Whisper's tokenizer writes it
/// (capitalised, with its question mark; numbers in digits or words, hyphenated or not), and refuses the same words
/// split into other tokens, which the model never writes (letting them through crowded the guided search).
#[cfg(feature = "voice")]
#[test]
fn the_grammar_over_whisper_s_tokens_takes_only_the_tokenizer_s_own_spelling() {
    use ojscog::models::ModelStore;
    let root = ModelStore::developer_root();
    let stt = ModelStore::new(&root)
        .verified(ojscog::inference::speech::STT_MODEL)
        .expect("whisper-tiny-en installed (scripts/fetch-models.sh)");
    let mut whisper = our_whisper(&stt, 1);
    let grammar = ojscog::voice::Grammar::english().unwrap();
    let sentences = grammar.guide();
    let nfa = whisper.compile(&sentences);
    assert!(
        std::sync::Arc::ptr_eq(&nfa, &whisper.compile(&sentences)),
        "compiled once"
    );
    let tokenizer = tokenizers::Tokenizer::from_file(stt.path("tokenizer.json")).unwrap();
    let ids = |text: &str| tokenizer.encode(text, false).unwrap().get_ids().to_vec();
    for said in [
        " What is overdue?",
        " Who should review submission 12?",
        " who should review submission twelve",
        " Summarize paper twenty-one.",
        " Summarize paper one hundred and one.",
        " How many submissions are in copy editing?",
        " Refresh the data from OJS.",
        " Start a sync now.",
    ] {
        assert!(nfa.matches(&ids(said)), "{said:?} refused");
    }
    for not in [" What is late?", " Summarize paper", " Who should review"] {
        assert!(!nfa.matches(&ids(not)), "{not:?} accepted");
    }
    // " overdue" split otherwise: the same letters, not the tokenizer's tokens.
    let canonical = ids(" What is overdue?");
    let mut split = ids(" What is");
    split.extend(ids(" o"));
    split.extend(ids("ver"));
    split.extend(ids("due"));
    split.extend(ids("?"));
    assert_ne!(canonical, split);
    assert!(!nfa.matches(&split), "a non-canonical split accepted");
}

/// Our Whisper loop on the developers' store's model and ONNX Runtime.
#[cfg(feature = "voice")]
fn our_whisper(
    stt: &ojscog::models::VerifiedModel,
    threads: usize,
) -> ojscog::inference::whisper::Whisper {
    use ojscog::models::ModelStore;
    let ort =
        ojscog::inference::embed::ort_dylib_path(&ModelStore::new(ModelStore::developer_root()))
            .expect("onnxruntime installed");
    ojscog::inference::embed::init_ort(&ort).expect("ONNX Runtime loads");
    ojscog::inference::whisper::Whisper::load(
        "whisper-tiny-en",
        &stt.path("encoder.onnx"),
        &stt.path("decoder.onnx"),
        &stt.path("tokens.txt"),
        &stt.path("tokenizer.json"),
        threads,
    )
    .expect("our Whisper loop loads the model")
}
