"""clip_official.py: the CLIP model code of openai/CLIP clip/model.py that the
official CoOp and CoCoOp trainers run (the text transformer with its causal
mask; the ViT image tower from tests/fixtures/vision/gen_vision.py), in
float32 with random weights of the ViT-B/16 shapes (no checkpoint is
downloaded), and the timing loop both scripts share. Shared by coop_official.py and
cocoop_official.py; benchmark only, never a test or a build step."""
import os
import resource
import statistics
import sys
import time
from collections import OrderedDict

import torch
from torch import nn

# clip/model.py's VisionTransformer, as the vision fixtures reproduce it
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "fixtures", "vision"))
from gen_vision import VisionTransformer  # noqa: E402

CONTEXT_LENGTH, VOCAB, SOS, EOT = 77, 49408, 49406, 49407


class LayerNorm(nn.LayerNorm):
    def forward(self, x):  # clip/model.py: computes in float32, casts back
        orig_type = x.dtype
        ret = super().forward(x.type(torch.float32))
        return ret.type(orig_type)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d_model, n_head, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ln_1 = LayerNorm(d_model)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(d_model, d_model * 4)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(d_model * 4, d_model))]))
        self.ln_2 = LayerNorm(d_model)
        self.attn_mask = attn_mask

    def attention(self, x):
        m = self.attn_mask
        m = m.to(dtype=x.dtype, device=x.device) if m is not None else None
        return self.attn(x, x, x, need_weights=False, attn_mask=m)[0]

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, attn_mask=None):
        super().__init__()
        self.width, self.layers = width, layers
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, attn_mask)
                                         for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class CLIP(nn.Module):
    """ViT-B/16: embed 512, image 224 / patch 16 / width 768 / 12 layers; text
    77 positions, vocabulary 49408, width 512, 8 heads, 12 layers."""

    def __init__(self, embed_dim=512, image_resolution=224, vision_layers=12,
                 vision_width=768, vision_patch_size=16, context_length=CONTEXT_LENGTH,
                 vocab_size=VOCAB, transformer_width=512, transformer_heads=8,
                 transformer_layers=12):
        super().__init__()
        self.context_length = context_length
        self.visual = VisionTransformer(image_resolution, vision_patch_size, vision_width,
                                        vision_layers, vision_width // 64, embed_dim)
        self.transformer = Transformer(transformer_width, transformer_layers,
                                       transformer_heads, self.build_attention_mask())
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, transformer_width))
        self.ln_final = LayerNorm(transformer_width)
        self.text_projection = nn.Parameter(torch.empty(transformer_width, embed_dim))
        self.logit_scale = nn.Parameter(torch.ones([]) * 4.6052)  # ln(100), trained value
        self.initialize_parameters()

    def initialize_parameters(self):
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        t = self.transformer
        proj_std = (t.width ** -0.5) * ((2 * t.layers) ** -0.5)
        attn_std, fc_std = t.width ** -0.5, (2 * t.width) ** -0.5
        for block in t.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=t.width ** -0.5)

    def build_attention_mask(self):
        mask = torch.empty(self.context_length, self.context_length)
        mask.fill_(float("-inf"))
        mask.triu_(1)
        return mask

    @property
    def dtype(self):
        return self.visual.conv1.weight.dtype


def frozen_clip():
    """The model as the trainers hold it: float32 on CPU ("fp32" precision),
    every parameter frozen (only the prompt learner trains)."""
    torch.manual_seed(0)
    m = CLIP().float()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def tokenize(name_tokens, prefix_tokens):
    """clip.tokenize's layout for "PREFIX NAME.": [SOS] prefix name '.' [EOT],
    zero-padded to 77. Token ids are placeholders drawn from the vocabulary
    (no BPE file is needed); only the EOT position, where the text feature is
    read, depends on them, and every prompt runs all 77 positions anyway."""
    row = [SOS] + prefix_tokens + name_tokens + [269, EOT]
    row += [0] * (CONTEXT_LENGTH - len(row))
    return row


def class_tokens(K, seed=1234):
    """K class names of 1-4 tokens each (40/35/15/10 %), as placeholder ids."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(K):
        u = torch.rand(1, generator=g).item()
        n = 1 if u < 0.40 else 2 if u < 0.75 else 3 if u < 0.90 else 4
        out.append(torch.randint(1000, 40000, (n,), generator=g).tolist())
    return out


def fake_batch(K, B, images):
    """Labels and the trainers' batch: random 224 px images (images true) or
    the image features the benchmark's cached-feature mode serves."""
    g = torch.Generator().manual_seed(7)
    label = torch.randint(0, K, (B,), generator=g)
    if images:
        return label, {"image": torch.randn(B, 3, 224, 224, generator=g)}
    return label, {"image_features": torch.rand(B, 512, generator=g) * 2 - 1}


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_steps(forward, optim, iters):
    """Runs the trainers' forward_backward (loss = forward(timing); zero_grad;
    backward; step) iters + 1 times, the first a warm-up, and prints the
    medians: iter_s, text_s (what forward put in timing plus the backward),
    cpu_s, then model_mib (peak resident set before) and maxrss_mib (after)."""
    model_mib = peak_mib()
    walls, texts, cpus = [], [], []
    for it in range(iters + 1):
        t0, c0, tt = time.perf_counter(), time.process_time(), []
        loss = forward(tt)
        optim.zero_grad()
        tb = time.perf_counter()
        loss.backward()
        tt.append(time.perf_counter() - tb)  # the backward is the text side's
        optim.step()
        if it > 0:
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            texts.append(sum(tt))
    print("iter_s %.4f" % statistics.median(walls))
    print("text_s %.4f" % statistics.median(texts))
    print("cpu_s %.4f" % statistics.median(cpus))
    print("model_mib %.1f" % model_mib)
    print("maxrss_mib %.1f" % peak_mib())
