#!/usr/bin/python3
"""Generates the tiny CLIP checkpoints of tests/clip/data/ckpt/ with PyTorch:
a ViT config and a ModifiedResNet config, in OpenAI/open_clip names and
(ViT) Hugging Face CLIPModel names, stored as F32, released-style mixed
F16/F32 (matmul weights fp16, LayerNorm/embeddings fp32), F16 and BF16.
Weights are multiples of 1/256 with |k| < 256, exact in every dtype, so the
loader's output can be checked exactly. expect.txt lists, per OpenAI-layout
parameter, its shape, sum(k) and sum(k * (i % 7 + 1)) over the flat index i
(catches transposes and q|k|v order). The safetensors writer is written by
hand (the `safetensors` package is not installed).
    /usr/bin/python3 tests/clip/gen_checkpoint_golden.py"""
import json
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'data', 'ckpt')
gen = torch.Generator().manual_seed(20240601)


def rnd(*shape):
    k = torch.randint(-255, 256, shape, generator=gen, dtype=torch.int64)
    return k.to(torch.float32) / 256.0


def block(sd, pre, W):
    sd[pre + 'ln_1.weight'] = rnd(W)
    sd[pre + 'ln_1.bias'] = rnd(W)
    sd[pre + 'attn.in_proj_weight'] = rnd(3 * W, W)
    sd[pre + 'attn.in_proj_bias'] = rnd(3 * W)
    sd[pre + 'attn.out_proj.weight'] = rnd(W, W)
    sd[pre + 'attn.out_proj.bias'] = rnd(W)
    sd[pre + 'ln_2.weight'] = rnd(W)
    sd[pre + 'ln_2.bias'] = rnd(W)
    sd[pre + 'mlp.c_fc.weight'] = rnd(4 * W, W)
    sd[pre + 'mlp.c_fc.bias'] = rnd(4 * W)
    sd[pre + 'mlp.c_proj.weight'] = rnd(W, 4 * W)
    sd[pre + 'mlp.c_proj.bias'] = rnd(W)


def text(sd, V=100, L=8, W=32, layers=2, E=16):
    sd['token_embedding.weight'] = rnd(V, W)
    sd['positional_embedding'] = rnd(L, W)
    for i in range(layers):
        block(sd, f'transformer.resblocks.{i}.', W)
    sd['ln_final.weight'] = rnd(W)
    sd['ln_final.bias'] = rnd(W)
    sd['text_projection'] = rnd(W, E)
    sd['logit_scale'] = torch.tensor(4.625)  # ~ log(100), exact in every dtype


def vit_sd():
    sd = {}
    text(sd)
    W, P, S, layers, E = 32, 4, 8, 2, 16
    sd['visual.conv1.weight'] = rnd(W, 3, P, P)
    sd['visual.class_embedding'] = rnd(W)
    sd['visual.positional_embedding'] = rnd((S // P) ** 2 + 1, W)
    sd['visual.ln_pre.weight'] = rnd(W)
    sd['visual.ln_pre.bias'] = rnd(W)
    for i in range(layers):
        block(sd, f'visual.transformer.resblocks.{i}.', W)
    sd['visual.ln_post.weight'] = rnd(W)
    sd['visual.ln_post.bias'] = rnd(W)
    sd['visual.proj'] = rnd(W, E)
    return sd


def bn(sd, pre, C):
    sd[pre + '.weight'] = rnd(C)
    sd[pre + '.bias'] = rnd(C)
    sd[pre + '.running_mean'] = rnd(C)
    sd[pre + '.running_var'] = ((rnd(C) * 256).abs() // 2 + 128) / 256  # in [0.5, 1)
    sd[pre + '.num_batches_tracked'] = torch.tensor(7, dtype=torch.int64)


def rn_sd():
    sd = {}
    text(sd)
    W, layers, S, E = 4, (1, 1, 2, 1), 32, 16
    sd['visual.conv1.weight'] = rnd(W // 2, 3, 3, 3)
    bn(sd, 'visual.bn1', W // 2)
    sd['visual.conv2.weight'] = rnd(W // 2, W // 2, 3, 3)
    bn(sd, 'visual.bn2', W // 2)
    sd['visual.conv3.weight'] = rnd(W, W // 2, 3, 3)
    bn(sd, 'visual.bn3', W)
    inplanes = W
    for li, n in enumerate(layers):
        planes = W * 2 ** li
        for b in range(n):
            stride = 2 if (li > 0 and b == 0) else 1
            pre = f'visual.layer{li + 1}.{b}'
            sd[pre + '.conv1.weight'] = rnd(planes, inplanes, 1, 1)
            bn(sd, pre + '.bn1', planes)
            sd[pre + '.conv2.weight'] = rnd(planes, planes, 3, 3)
            bn(sd, pre + '.bn2', planes)
            sd[pre + '.conv3.weight'] = rnd(planes * 4, planes, 1, 1)
            bn(sd, pre + '.bn3', planes * 4)
            if stride > 1 or inplanes != planes * 4:
                sd[pre + '.downsample.0.weight'] = rnd(planes * 4, inplanes, 1, 1)
                bn(sd, pre + '.downsample.1', planes * 4)
            inplanes = planes * 4
    D = W * 32
    sd['visual.attnpool.positional_embedding'] = rnd((S // 32) ** 2 + 1, D)
    for p in ('q', 'k', 'v'):
        sd[f'visual.attnpool.{p}_proj.weight'] = rnd(D, D)
        sd[f'visual.attnpool.{p}_proj.bias'] = rnd(D)
    sd['visual.attnpool.c_proj.weight'] = rnd(E, D)
    sd['visual.attnpool.c_proj.bias'] = rnd(E)
    return sd


def to_hf(sd):
    """OpenAI state dict -> transformers CLIPModel names (ViT only)."""
    hf = {}

    def blocks(src, dst):
        i = 0
        while f'{src}{i}.ln_1.weight' in sd:
            s, d = f'{src}{i}.', f'{dst}{i}.'
            q, k, v = sd[s + 'attn.in_proj_weight'].chunk(3)
            qb, kb, vb = sd[s + 'attn.in_proj_bias'].chunk(3)
            for n, w, b in (('q', q, qb), ('k', k, kb), ('v', v, vb)):
                hf[d + f'self_attn.{n}_proj.weight'] = w.clone()
                hf[d + f'self_attn.{n}_proj.bias'] = b.clone()
            hf[d + 'self_attn.out_proj.weight'] = sd[s + 'attn.out_proj.weight']
            hf[d + 'self_attn.out_proj.bias'] = sd[s + 'attn.out_proj.bias']
            for a, b in (('ln_1', 'layer_norm1'), ('ln_2', 'layer_norm2'),
                         ('mlp.c_fc', 'mlp.fc1'), ('mlp.c_proj', 'mlp.fc2')):
                hf[d + b + '.weight'] = sd[s + a + '.weight']
                hf[d + b + '.bias'] = sd[s + a + '.bias']
            i += 1
    L = sd['positional_embedding'].shape[0]
    hf['text_model.embeddings.token_embedding.weight'] = sd['token_embedding.weight']
    hf['text_model.embeddings.position_embedding.weight'] = sd['positional_embedding']
    hf['text_model.embeddings.position_ids'] = torch.arange(L, dtype=torch.int64)[None]
    blocks('transformer.resblocks.', 'text_model.encoder.layers.')
    hf['text_model.final_layer_norm.weight'] = sd['ln_final.weight']
    hf['text_model.final_layer_norm.bias'] = sd['ln_final.bias']
    hf['text_projection.weight'] = sd['text_projection'].t().contiguous()
    npos = sd['visual.positional_embedding'].shape[0]
    hf['vision_model.embeddings.patch_embedding.weight'] = sd['visual.conv1.weight']
    hf['vision_model.embeddings.class_embedding'] = sd['visual.class_embedding']
    hf['vision_model.embeddings.position_embedding.weight'] = sd['visual.positional_embedding']
    hf['vision_model.embeddings.position_ids'] = torch.arange(npos, dtype=torch.int64)[None]
    hf['vision_model.pre_layrnorm.weight'] = sd['visual.ln_pre.weight']
    hf['vision_model.pre_layrnorm.bias'] = sd['visual.ln_pre.bias']
    blocks('visual.transformer.resblocks.', 'vision_model.encoder.layers.')
    hf['vision_model.post_layernorm.weight'] = sd['visual.ln_post.weight']
    hf['vision_model.post_layernorm.bias'] = sd['visual.ln_post.bias']
    hf['visual_projection.weight'] = sd['visual.proj'].t().contiguous()
    hf['logit_scale'] = sd['logit_scale']
    return hf


DT = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64'}


def save(path, tensors, metadata=None):
    """safetensors by hand: u64 LE header length, JSON header, data."""
    header, blobs, off = {}, [], 0
    if metadata:
        header['__metadata__'] = metadata
    for name in sorted(tensors):  # like safetensors: data sorted by dtype/name is fine
        t = tensors[name].contiguous()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        header[name] = {'dtype': DT[t.dtype], 'shape': list(t.shape),
                        'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def cast(sd, mode):
    out = {}
    for k, v in sd.items():
        if v.dtype == torch.int64 or mode == 'f32':
            out[k] = v
        elif mode == 'bf16':
            out[k] = v.to(torch.bfloat16)
        elif mode == 'f16':
            out[k] = v.to(torch.float16)
        else:  # released-style: 2-D+ matmul/conv weights fp16, the rest fp32
            matmul = v.dim() >= 2 and ('weight' in k or 'proj' in k) and 'embedding' not in k
            out[k] = v.to(torch.float16) if matmul else v
    return out


def expect_lines(tag, sd):
    lines = []
    for k, v in sorted(sd.items()):
        if v.dtype == torch.int64:
            continue
        flat = (v.reshape(-1).double() * 256).round().long()
        w = torch.arange(flat.numel()) % 7 + 1
        shape = 'x'.join(str(s) for s in v.shape) or 'scalar'
        lines.append(f'{tag} {k} {shape} {int(flat.sum())} {int((flat * w).sum())}')
    return lines


def main():
    os.makedirs(OUT, exist_ok=True)
    meta = {'format': 'pt', 'coop.text_heads': '1', 'coop.vision_heads': '1'}
    vit, rn = vit_sd(), rn_sd()
    for mode in ('f32', 'f16mixed', 'bf16'):
        save(os.path.join(OUT, f'vit_openai_{mode}.safetensors'), cast(vit, mode), meta)
    hf = to_hf(vit)
    for mode in ('f16', 'bf16'):
        save(os.path.join(OUT, f'vit_hf_{mode}.safetensors'), cast(hf, mode), meta)
    rmeta = {'format': 'pt', 'coop.text_heads': '1'}
    for mode in ('f16mixed', 'bf16'):
        save(os.path.join(OUT, f'rn_openai_{mode}.safetensors'), cast(rn, mode), rmeta)
    with open(os.path.join(OUT, 'expect.txt'), 'w') as f:
        f.write('# coop checkpoint golden v1: tag name shape sum(k) sum(k*(i%7+1)), '
                'value = k/256; torch ' + torch.__version__ + '\n')
        f.write('\n'.join(expect_lines('vit', vit) + expect_lines('rn', rn)) + '\n')


if __name__ == '__main__':
    main()
