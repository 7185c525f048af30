#!/usr/bin/python3
"""cocoop_official.py: one CoCoOp training step as the official code runs it
(KaiyangZhou/CoOp trainers/cocoop.py: PromptLearner with the meta-net,
CustomCLIP's loop over the batch's images, each running the text encoder on
all K prompts at 77 positions), on CPU in float32 with random weights of the
ViT-B/16 shapes (clip_official.py). Run by `coop-bench-train --method cocoop
--official`; a benchmark only, never a test or a build step.

Usage: cocoop_official.py K BATCH THREADS ITERS [--images]
Prints "iter_s", "text_s" (prompt learner + text encoder forward and the
backward), "cpu_s", "model_mib" and "maxrss_mib" as coop_official.py does, medians of ITERS steps after
one warm-up. Without --images the batch's image features are given (random,
the benchmark's cached-feature mode); with --images each step encodes BATCH
random 224 px images through the ViT-B/16 image tower first."""
import os
import sys
import time
from collections import OrderedDict

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_official import class_tokens, fake_batch, frozen_clip, time_steps, tokenize  # noqa: E402,E501
from coop_official import TextEncoder  # noqa: E402

CTX_INIT = [320, 1125, 539, 320]  # placeholder ids of "a photo of a" (M = 4)


class PromptLearner(nn.Module):
    def __init__(self, names, clip_model):
        super().__init__()
        n_cls, dtype = len(names), clip_model.dtype
        ctx_dim = clip_model.ln_final.weight.shape[0]
        vis_dim = clip_model.visual.proj.shape[1]
        n_ctx = len(CTX_INIT)
        prompt = torch.tensor([tokenize([], CTX_INIT)])
        with torch.no_grad():
            embedding = clip_model.token_embedding(prompt).type(dtype)
        self.ctx = nn.Parameter(embedding[0, 1:1 + n_ctx, :].clone())
        self.meta_net = nn.Sequential(OrderedDict([
            ("linear1", nn.Linear(vis_dim, vis_dim // 16)),
            ("relu", nn.ReLU(inplace=True)),
            ("linear2", nn.Linear(vis_dim // 16, ctx_dim))]))
        tokenized = torch.tensor([tokenize(n, CTX_INIT) for n in names])
        with torch.no_grad():
            embedding = clip_model.token_embedding(tokenized).type(dtype)
        self.register_buffer("token_prefix", embedding[:, :1, :])  # SOS
        self.register_buffer("token_suffix", embedding[:, 1 + n_ctx:, :])  # CLS, EOS
        self.n_cls, self.n_ctx = n_cls, n_ctx
        self.tokenized_prompts = tokenized

    def construct_prompts(self, ctx, prefix, suffix):
        return torch.cat([prefix, ctx, suffix], dim=1)

    def forward(self, im_features):
        prefix, suffix = self.token_prefix, self.token_suffix
        ctx = self.ctx  # (n_ctx, ctx_dim)
        bias = self.meta_net(im_features)  # (batch, ctx_dim)
        bias = bias.unsqueeze(1)  # (batch, 1, ctx_dim)
        ctx = ctx.unsqueeze(0)  # (1, n_ctx, ctx_dim)
        ctx_shifted = ctx + bias  # (batch, n_ctx, ctx_dim)
        prompts = []
        for ctx_shifted_i in ctx_shifted:
            ctx_i = ctx_shifted_i.unsqueeze(0).expand(self.n_cls, -1, -1)
            prompts.append(self.construct_prompts(ctx_i, prefix, suffix))
        return torch.stack(prompts)


class CustomCLIP(nn.Module):
    def __init__(self, names, clip_model):
        super().__init__()
        self.prompt_learner = PromptLearner(names, clip_model)
        self.tokenized_prompts = self.prompt_learner.tokenized_prompts
        self.image_encoder = clip_model.visual
        self.text_encoder = TextEncoder(clip_model)
        self.logit_scale = clip_model.logit_scale
        self.dtype = clip_model.dtype

    def forward(self, label, image=None, image_features=None, timing=None):
        tokenized_prompts = self.tokenized_prompts
        logit_scale = self.logit_scale.exp()
        if image is not None:
            image_features = self.image_encoder(image.type(self.dtype))
        t0 = time.perf_counter()
        image_features = image_features / image_features.norm(dim=-1, keepdim=True)
        prompts = self.prompt_learner(image_features)
        logits = []
        for pts_i, imf_i in zip(prompts, image_features):
            text_features = self.text_encoder(pts_i, tokenized_prompts)
            text_features = text_features / text_features.norm(dim=-1, keepdim=True)
            logits.append(logit_scale * imf_i @ text_features.t())
        logits = torch.stack(logits)
        if timing is not None:
            timing.append(time.perf_counter() - t0)
        return F.cross_entropy(logits, label)  # prompt_learner.training


def main():
    if len(sys.argv) < 5:
        sys.exit("usage: cocoop_official.py K BATCH THREADS ITERS [--images]")
    K, B, threads, iters = (int(a) for a in sys.argv[1:5])
    images = "--images" in sys.argv[5:]
    torch.set_num_threads(threads)
    clip_model = frozen_clip()
    model = CustomCLIP(class_tokens(K), clip_model)
    # configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml: SGD lr 0.002 (Dassl's
    # momentum 0.9, weight decay 5e-4), over the prompt learner (context + meta-net)
    optim = torch.optim.SGD(model.prompt_learner.parameters(), lr=0.002, momentum=0.9,
                            weight_decay=5e-4)
    label, batch = fake_batch(K, B, images)
    # forward_backward of trainers/cocoop.py
    time_steps(lambda tt: model(label, timing=tt, **batch), optim, iters)


if __name__ == "__main__":
    main()
