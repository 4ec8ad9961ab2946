#!/usr/bin/env python3
"""Reference embedding throughput with Python onnxruntime: same model, same
tokenizer (256 tokens, longest-in-batch padding), same threads, same batches,
mean pooling + L2 norm. Called by `cargo bench --bench embedding`.

usage: bench_embed.py MODEL_ONNX TOKENIZER_JSON TEXTS_JSON THREADS BATCH REPS [--memory]
prints one JSON line: {"texts_per_sec": ..., "seconds": ..., "onnxruntime": ...}
With --memory (the memory bench): BATCH texts per call like the service's
background job, one pass, and the process's RSS idle / peak / after in MB.
"""
import json
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def rss():
    """(VmRSS, VmHWM) in MB."""
    f = {l.split(":")[0]: l.split()[1] for l in open("/proc/self/status") if l.startswith("Vm")}
    return int(f["VmRSS"]) / 1024, int(f["VmHWM"]) / 1024


def main():
    model, tok_path, texts_path, threads, batch, reps = sys.argv[1:7]
    memory = "--memory" in sys.argv[7:]
    threads, batch, reps = int(threads), int(batch), int(reps)
    texts = json.load(open(texts_path))
    tok = Tokenizer.from_file(tok_path)
    tok.enable_truncation(max_length=256)
    tok.enable_padding()  # longest in batch
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))

    def run_all():
        out = [None] * len(texts)
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            enc = tok.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in names:
                feeds["token_type_ids"] = np.array([e.type_ids for e in enc], dtype=np.int64)
            h = sess.run(None, feeds)[0]
            m = mask[:, :, None].astype(np.float32)
            v = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            for j, i in enumerate(idx):
                out[i] = v[j]
        return out

    if memory:
        texts_all = texts
        texts = texts_all[:batch]
        order = list(range(len(texts)))
        run_all()  # warm-up: one chunk
        idle, _ = rss()
        open("/proc/self/clear_refs", "w").write("5")
        texts = texts_all
        order = list(range(len(texts)))  # in order, chunk by chunk, as the job does
        t0 = time.perf_counter()
        run_all()
        dt = time.perf_counter() - t0
        after, peak = rss()
        print(json.dumps({
            "texts_per_sec": len(texts) / dt,
            "onnxruntime": ort.__version__,
            "idle_mb": idle,
            "peak_mb": peak,
            "after_mb": after,
        }))
        return

    run_all()  # warm-up
    t0 = time.perf_counter()
    for _ in range(reps):
        vecs = run_all()
    dt = (time.perf_counter() - t0) / reps
    print(json.dumps({
        "texts_per_sec": len(texts) / dt,
        "seconds": dt,
        "onnxruntime": ort.__version__,
        "first_vector_head": [float(x) for x in vecs[0][:4]],
    }))


if __name__ == "__main__":
    main()
