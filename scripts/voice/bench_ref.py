#!/usr/bin/env python3
"""The reference side of `scripts/bench-voice.sh`: the Python `sherpa-onnx` and `piper-tts` packages on the same
model files, utterances and thread count as `ojscog bench voice`, printing the same real-time factors.

    bench_ref.py TESTSET_DIR MODEL_STORE THREADS COUNT
"""
import os
import sys
import time
import wave

import numpy as np
import sherpa_onnx
from piper import PiperVoice

testset, store, threads, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
stt = os.path.join(store, "whisper-tiny-en", "current")
vad_model = os.path.join(store, "silero-vad", "current", "silero_vad.onnx")
voice = PiperVoice.load(os.path.join(store, "piper-en-us-joe-medium", "current", "voice.onnx"))
rec = sherpa_onnx.OfflineRecognizer.from_whisper(
    encoder=f"{stt}/encoder.onnx", decoder=f"{stt}/decoder.onnx", tokens=f"{stt}/tokens.txt",
    num_threads=threads, language="en", task="transcribe")
cfg = sherpa_onnx.VadModelConfig()
cfg.silero_vad.model = vad_model
cfg.silero_vad.min_silence_duration = 0.4
cfg.silero_vad.min_speech_duration = 0.15
cfg.silero_vad.max_speech_duration = 28
cfg.sample_rate = 16000
cases = []
for line in open(os.path.join(testset, "manifest.tsv")).read().splitlines()[1:]:
    f, split, engine, intent, slots, text = line.split("\t")
    if engine.startswith("piper") and not engine.endswith("+noise"):
        cases.append((f, text))
cases = cases[:count]


def load16k(path):
    with wave.open(path) as w:
        a = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
        rate = w.getframerate()
    if rate != 16000:
        n = int(len(a) * 16000 / rate)
        a = np.interp(np.linspace(0, len(a) - 1, n), np.arange(len(a)), a).astype(np.float32)
    return a


def listen(a):
    vad = sherpa_onnx.VoiceActivityDetector(cfg, buffer_size_in_seconds=30)
    speech = []
    for i in range(0, len(a), 512):
        vad.accept_waveform(a[i:i + 512])
        while not vad.empty():
            speech.extend(vad.front.samples)
            vad.pop()
    vad.flush()
    while not vad.empty():
        speech.extend(vad.front.samples)
        vad.pop()
    s = rec.create_stream()
    pad = np.zeros(4000, dtype=np.float32)
    s.accept_waveform(16000, np.concatenate([pad, np.array(speech, dtype=np.float32), pad]))
    rec.decode_stream(s)
    return s.result.text


listen(load16k(os.path.join(testset, cases[0][0])))
audio = stt_t = tts_t = tts_audio = 0.0
for f, text in cases:
    a = load16k(os.path.join(testset, f))
    audio += len(a) / 16000
    t = time.perf_counter()
    listen(a)
    stt_t += time.perf_counter() - t
    t = time.perf_counter()
    n = 0
    for chunk in voice.synthesize(text):
        n += len(chunk.audio_int16_bytes) // 2
    tts_t += time.perf_counter() - t
    tts_audio += n / voice.config.sample_rate
with open("/proc/self/status") as s:
    rss = next(int(l.split()[1]) for l in s if l.startswith("VmHWM:")) * 1024
print(f"python reference (sherpa-onnx {sherpa_onnx.__version__}, piper-tts): {len(cases)} utterances, {threads} threads")
print(f"  speech-to-text (VAD + Whisper)  RTF {stt_t / audio:.3f}")
print(f"  text-to-speech (Piper)          RTF {tts_t / tts_audio:.3f}")
print(f"  peak RSS {rss >> 20} MiB")
