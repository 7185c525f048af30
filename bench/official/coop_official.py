#!/usr/bin/python3
"""coop_official.py: one CoOp training iteration as the official code runs it
(KaiyangZhou/CoOp trainers/coop.py: PromptLearner, TextEncoder, CustomCLIP,
forward_backward), on CPU in float32 with random weights of the ViT-B/16
shapes (clip_official.py). Run by `coop-bench-train --official` with the same
shapes and thread count; a benchmark only, never a test or a build step.

Usage: coop_official.py K BATCH M end|middle|front unified|csc THREADS ITERS [--images]
Prints "iter_s <float>" (median of ITERS timed iterations after one warm-up),
"text_s <float>" (the median of the prompt learner + text encoder forward and
backward part), "cpu_s <float>" (process CPU seconds per iteration),
"model_mib <float>" (the peak resident set once the model is built) and
"maxrss_mib <float>" (the peak resident set at the end, model included).
Without --images the batch's image features are given (random, as the
benchmark's cached-feature mode serves them); with --images each iteration
encodes BATCH random 224 px images through the ViT-B/16 image tower first, as
the official trainer does."""
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_official import class_tokens, fake_batch, frozen_clip, time_steps, tokenize  # noqa: E402,E501


class TextEncoder(nn.Module):
    def __init__(self, clip_model):
        super().__init__()
        self.transformer = clip_model.transformer
        self.positional_embedding = clip_model.positional_embedding
        self.ln_final = clip_model.ln_final
        self.text_projection = clip_model.text_projection
        self.dtype = clip_model.dtype

    def forward(self, prompts, tokenized_prompts):
        x = prompts + self.positional_embedding.type(self.dtype)
        x = x.permute(1, 0, 2)  # NLD -> LND
        x = self.transformer(x)
        x = x.permute(1, 0, 2)  # LND -> NLD
        x = self.ln_final(x).type(self.dtype)
        # features at the EOT token (the highest id in each sequence)
        return x[torch.arange(x.shape[0]), tokenized_prompts.argmax(dim=-1)] @ self.text_projection


class PromptLearner(nn.Module):
    def __init__(self, names, clip_model, n_ctx, csc, position):
        super().__init__()
        n_cls, dtype = len(names), clip_model.dtype
        ctx_dim = clip_model.ln_final.weight.shape[0]
        # random initialization (no ctx_init), std 0.02, as the official default
        shape = (n_cls, n_ctx, ctx_dim) if csc else (n_ctx, ctx_dim)
        ctx_vectors = torch.empty(*shape, dtype=dtype)
        nn.init.normal_(ctx_vectors, std=0.02)
        self.ctx = nn.Parameter(ctx_vectors)
        x_token = 343  # "X" repeated n_ctx times in "X X ... X name."
        tokenized = torch.tensor([tokenize(n, [x_token] * n_ctx) for n in names])
        with torch.no_grad():
            embedding = clip_model.token_embedding(tokenized).type(dtype)
        self.register_buffer("token_prefix", embedding[:, :1, :])  # SOS
        self.register_buffer("token_suffix", embedding[:, 1 + n_ctx:, :])  # CLS, EOS
        self.n_cls, self.n_ctx = n_cls, n_ctx
        self.tokenized_prompts = tokenized
        self.name_lens = [len(n) for n in names]
        self.class_token_position = position

    def forward(self):
        ctx = self.ctx
        if ctx.dim() == 2:
            ctx = ctx.unsqueeze(0).expand(self.n_cls, -1, -1)
        prefix, suffix = self.token_prefix, self.token_suffix
        if self.class_token_position == "end":
            return torch.cat([prefix, ctx, suffix], dim=1)
        prompts = []
        half_n_ctx = self.n_ctx // 2
        for i in range(self.n_cls):
            name_len = self.name_lens[i]
            prefix_i = prefix[i:i + 1, :, :]
            class_i = suffix[i:i + 1, :name_len, :]
            suffix_i = suffix[i:i + 1, name_len:, :]
            if self.class_token_position == "middle":
                ctx_i_half1 = ctx[i:i + 1, :half_n_ctx, :]
                ctx_i_half2 = ctx[i:i + 1, half_n_ctx:, :]
                prompt = torch.cat([prefix_i, ctx_i_half1, class_i, ctx_i_half2, suffix_i], dim=1)
            else:  # front
                ctx_i = ctx[i:i + 1, :, :]
                prompt = torch.cat([prefix_i, class_i, ctx_i, suffix_i], dim=1)
            prompts.append(prompt)
        return torch.cat(prompts, dim=0)


class CustomCLIP(nn.Module):
    def __init__(self, names, clip_model, n_ctx, csc, position):
        super().__init__()
        self.prompt_learner = PromptLearner(names, clip_model, n_ctx, csc, position)
        self.tokenized_prompts = self.prompt_learner.tokenized_prompts
        self.image_encoder = clip_model.visual
        self.text_encoder = TextEncoder(clip_model)
        self.logit_scale = clip_model.logit_scale
        self.dtype = clip_model.dtype

    def forward(self, image=None, image_features=None, timing=None):
        if image is not None:
            image_features = self.image_encoder(image.type(self.dtype))
        t0 = time.perf_counter()
        prompts = self.prompt_learner()
        text_features = self.text_encoder(prompts, self.tokenized_prompts)
        if timing is not None:
            timing.append(time.perf_counter() - t0)
        image_features = image_features / image_features.norm(dim=-1, keepdim=True)
        text_features = text_features / text_features.norm(dim=-1, keepdim=True)
        logit_scale = self.logit_scale.exp()
        return logit_scale * image_features @ text_features.t()


def main():
    if len(sys.argv) < 8:
        sys.exit("usage: coop_official.py K BATCH M end|middle|front unified|csc THREADS ITERS "
                 "[--images]")
    K, B, M = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    position, csc = sys.argv[4], sys.argv[5] == "csc"
    threads, iters, images = int(sys.argv[6]), int(sys.argv[7]), "--images" in sys.argv[8:]
    torch.set_num_threads(threads)
    clip_model = frozen_clip()
    model = CustomCLIP(class_tokens(K), clip_model, M, csc, position)
    # Dassl's SGD defaults of the CoOp configs: lr 0.002, momentum 0.9, wd 5e-4
    optim = torch.optim.SGD(model.prompt_learner.parameters(), lr=0.002, momentum=0.9,
                            weight_decay=5e-4)
    label, batch = fake_batch(K, B, images)
    # forward_backward of trainers/coop.py
    time_steps(lambda tt: F.cross_entropy(model(timing=tt, **batch), label), optim, iters)


if __name__ == "__main__":
    main()
