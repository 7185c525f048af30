#!/usr/bin/env python3
"""tests/fuzz/gen_corpus.py: writes the seed inputs of the safetensors target
that cannot be copied from the project: tiny CLIP checkpoints (the shipped
world CLIP's tensor names with every width shrunk to 8, one layer per tower,
a 16-token vocabulary, 4 positions, an 8-pixel image) in F32, F16 and BF16,
and a small safetensors file of mixed dtypes. Pure Python, deterministic;
run from the repository root: python3 tests/fuzz/gen_corpus.py"""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "safetensors")
W, V, CTX, GRID = 8, 16, 4, 2  # width, vocabulary, context, patches per side (patch 4)


def block(prefix):
    return [(prefix + "ln_1.weight", [W]), (prefix + "ln_1.bias", [W]),
            (prefix + "attn.in_proj_weight", [3 * W, W]), (prefix + "attn.in_proj_bias", [3 * W]),
            (prefix + "attn.out_proj.weight", [W, W]), (prefix + "attn.out_proj.bias", [W]),
            (prefix + "ln_2.weight", [W]), (prefix + "ln_2.bias", [W]),
            (prefix + "mlp.c_fc.weight", [4 * W, W]), (prefix + "mlp.c_fc.bias", [4 * W]),
            (prefix + "mlp.c_proj.weight", [W, 4 * W]), (prefix + "mlp.c_proj.bias", [W])]


def clip_tensors(vision=True):
    t = [("token_embedding.weight", [V, W]), ("positional_embedding", [CTX, W])]
    t += block("transformer.resblocks.0.")
    t += [("ln_final.weight", [W]), ("ln_final.bias", [W]), ("text_projection", [W, W])]
    if vision:
        t += [("visual.conv1.weight", [W, 3, 4, 4]), ("visual.class_embedding", [W]),
              ("visual.positional_embedding", [GRID * GRID + 1, W]),
              ("visual.ln_pre.weight", [W]), ("visual.ln_pre.bias", [W])]
        t += block("visual.transformer.resblocks.0.")
        t += [("visual.ln_post.weight", [W]), ("visual.ln_post.bias", [W]),
              ("visual.proj", [W, W])]
    return t + [("logit_scale", [])]


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def value(i):
    return ((i * 2654435761) % 2001 - 1000) / 8000.0  # small, exactly representable in f16


def encode(dtype, n, start):
    if dtype == "F32":
        return struct.pack("<%df" % n, *(value(start + i) for i in range(n)))
    if dtype == "F16":
        return struct.pack("<%de" % n, *(value(start + i) for i in range(n)))
    if dtype == "BF16":
        return b"".join(struct.pack("<f", value(start + i))[2:] for i in range(n))
    if dtype == "I64":
        return struct.pack("<%dq" % n, *range(n))
    if dtype == "U8":
        return bytes(range(n))
    raise ValueError(dtype)


def write(name, tensors, metadata):
    """tensors: (name, dtype, shape) in file order."""
    header, blobs, off, k = {"__metadata__": metadata}, [], 0, 0
    for tname, dtype, shape in tensors:
        b = encode(dtype, numel(shape), k)
        k += numel(shape)
        header[tname] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    os.makedirs(OUT, exist_ok=True)
    meta = {"format": "pt", "coop.text_heads": "1", "coop.vision_heads": "1"}
    for dtype in ("F32", "F16", "BF16"):
        write("tiny_clip_%s.safetensors" % dtype.lower(),
              [(n, dtype, s) for n, s in clip_tensors()], meta)
    write("tiny_text_only.safetensors", [(n, "F32", s) for n, s in clip_tensors(False)], meta)
    write("mixed_dtypes.safetensors",
          [("a", "F32", [2, 3]), ("b", "F16", [4]), ("c", "BF16", [1, 1, 2]),
           ("ids", "I64", [3]), ("mask", "U8", [5]), ("s", "F32", [])], {"note": "seed"})


if __name__ == "__main__":
    main()
