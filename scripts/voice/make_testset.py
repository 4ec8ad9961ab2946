#!/usr/bin/env python3
"""Generates the spoken test set of the voice commands: sentences with slot values, each spoken by Piper
(the joe voice, at three speeds) and by espeak-ng (several voices, speeds and pitches), some with noise mixed
in by sox. The audio is written outside the checkout (never committed) with a manifest:

    make_testset.py OUT_DIR --piper-model VOICE.onnx [--espeak-data DIR]

OUT_DIR/manifest.tsv: file, split, engine, intent, slots (k=v;k=v), text. `split` is `tune` or `heldout`:
the held-out phrasings are ones no template was written from, and template tuning must never look at them
(tests/integration/voice_testset.rs reports them apart). Deterministic: the same inputs give the same set.
Needs: piper-tts (Python), espeak-ng and sox (Debian).
"""
import argparse
import os
import random
import subprocess
import sys
import wave

WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine",
         10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen", 14: "fourteen", 15: "fifteen", 16: "sixteen",
         17: "seventeen", 18: "eighteen", 19: "nineteen", 20: "twenty", 21: "twenty one", 23: "twenty three",
         25: "twenty five", 30: "thirty", 34: "thirty four", 42: "forty two", 57: "fifty seven", 99: "ninety nine",
         101: "one hundred and one", 120: "one hundred twenty"}

# (split, intent, text with {n} or {stage}, slot name)
FORMS = [
    ("tune", "box_status", "What is the status of the box?", None),
    ("tune", "box_status", "How is the box doing?", None),
    ("tune", "box_status", "Is everything okay?", None),
    ("tune", "sync_status", "What is the sync status?", None),
    ("tune", "sync_status", "When did the box last sync?", None),
    ("tune", "sync_status", "Is the data up to date?", None),
    ("tune", "waiting_by_stage", "How many submissions are waiting?", None),
    ("tune", "waiting_by_stage", "How many submissions are in {stage}?", "stage"),
    ("tune", "waiting_by_stage", "How many are waiting in the {stage} stage?", "stage"),
    ("tune", "overdue", "What is overdue?", None),
    ("tune", "overdue", "Which reviews are late?", None),
    ("tune", "overdue", "Are there any overdue reviews?", None),
    ("tune", "suggest_reviewers", "Who should review submission {n}?", "number"),
    ("tune", "suggest_reviewers", "Suggest reviewers for paper {n}.", "number"),
    ("tune", "suggest_reviewers", "Find reviewers for manuscript number {n}.", "number"),
    ("tune", "summarize", "Summarize submission {n}.", "number"),
    ("tune", "summarize", "What is paper {n} about?", "number"),
    ("tune", "summarize", "Give me a summary of submission {n}.", "number"),
    ("tune", "start_sync", "Start a sync now.", None),
    ("tune", "start_sync", "Refresh the data from OJS.", None),
    ("tune", "decision", "Accept submission {n}.", "number"),
    ("tune", "decision", "Send paper {n} to review.", "number"),
    ("tune", "repeat", "Say that again.", None),
    ("tune", "repeat", "Repeat that, please.", None),
    ("tune", "help", "Help.", None),
    ("tune", "help", "What can I ask?", None),
    # Held out: phrasings the templates were not written from.
    ("heldout", "overdue", "Tell me what is overdue.", None),
    ("heldout", "suggest_reviewers", "Who could review submission {n}?", "number"),
    ("heldout", "summarize", "Please summarize paper {n}.", "number"),
    ("heldout", "sync_status", "How old is the data?", None),
    ("heldout", "waiting_by_stage", "What is waiting in {stage}?", "stage"),
    ("heldout", "help", "What are the commands?", None),
    ("heldout", "box_status", "Box status, please.", None),
    ("heldout", "start_sync", "Run a sync.", None),
]
STAGES = {"submission": "submission", "review": "review", "copyediting": "copy editing",
          "production": "production"}

ESPEAK = [("en-us", 150, 50), ("en-us+m3", 175, 40), ("en-gb", 160, 60), ("en-us+f2", 140, 55),
          ("en-gb+m1", 185, 45)]
PIPER_SPEEDS = [0.85, 1.0, 1.15]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, **kw)
    if r.returncode != 0:
        sys.exit(f"make_testset: {' '.join(cmd[:3])}… failed: {r.stderr.decode(errors='replace')[-400:]}")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--piper-model", required=True)
    ap.add_argument("--espeak-data", default=None, help="directory holding espeak-ng-data (for Piper)")
    args = ap.parse_args()
    rng = random.Random(20261130)
    os.makedirs(args.out_dir, exist_ok=True)

    # Repeatable audio: Piper's VITS samples noise inside the model (ONNX Runtime's random ops, seeded here before its
    # session is made), and sox's pink noise and dither (-R); the same generator and voice give the same test set.
    import onnxruntime
    onnxruntime.set_seed(20261130)
    from piper import PiperVoice, SynthesisConfig
    voice = PiperVoice.load(args.piper_model)

    cases = []
    numbers = sorted(WORDS)
    for split, intent, form, slot in FORMS:
        # Every form with three slot values (or three renderings when it has none).
        for k in range(3):
            slots = {}
            text = form
            if slot == "number":
                n = numbers[(len(cases) * 7 + k * 5) % len(numbers)]
                text = form.replace("{n}", WORDS[n] if k != 1 else str(n))
                slots["number"] = str(n)
            elif slot == "stage":
                stage = list(STAGES)[(len(cases) + k) % len(STAGES)]
                text = form.replace("{stage}", STAGES[stage])
                slots["stage"] = stage
            cases.append((split, intent, slots, text))

    manifest = []
    for i, (split, intent, slots, text) in enumerate(cases):
        # Two renderings per case: Piper at one of three speeds, and an espeak-ng voice; one in three gets noise.
        renders = [("piper", PIPER_SPEEDS[i % 3]), ("espeak", ESPEAK[i % len(ESPEAK)])]
        for j, (engine, how) in enumerate(renders):
            name = f"{i:03d}-{j}-{engine}.wav"
            path = os.path.join(args.out_dir, name)
            tmp = path + ".raw.wav"
            if engine == "piper":
                with wave.open(tmp, "wb") as w:
                    voice.synthesize_wav(text, w, syn_config=SynthesisConfig(length_scale=how))
                label = f"piper-joe-x{how}"
            else:
                v, speed, pitch = how
                run(["espeak-ng", "-v", v, "-s", str(speed), "-p", str(pitch), "-w", tmp, text])
                label = f"espeak-{v}-s{speed}-p{pitch}"
            if rng.random() < 1 / 3:
                # Pink noise about 20 dB under the speech.
                noise = path + ".noise.wav"
                dur = float(run(["soxi", "-D", tmp]).stdout.decode().strip())
                rate = run(["soxi", "-r", tmp]).stdout.decode().strip()
                run(["sox", "-R", "-n", "-r", rate, "-c", "1", "-b", "16", noise, "synth", f"{dur}", "pinknoise", "vol", "0.03"])
                run(["sox", "-R", "-m", tmp, noise, path])
                os.remove(noise)
                os.remove(tmp)
                label += "+noise"
            else:
                os.replace(tmp, path)
            manifest.append((name, split, label, intent, ";".join(f"{k}={v}" for k, v in sorted(slots.items())), text))

    with open(os.path.join(args.out_dir, "manifest.tsv.tmp"), "w") as f:
        f.write("file\tsplit\tengine\tintent\tslots\ttext\n")
        for row in manifest:
            f.write("\t".join(row) + "\n")
    os.replace(os.path.join(args.out_dir, "manifest.tsv.tmp"), os.path.join(args.out_dir, "manifest.tsv"))
    print(f"{len(manifest)} utterances ({sum(1 for m in manifest if m[1] == 'heldout')} held out) in {args.out_dir}")


if __name__ == "__main__":
    main()
