# gen_adamw_golden.py: golden numbers for tests/train/test_train.c from torch.optim.AdamW
# (decoupled weight decay) with CLIP's betas/eps and a changing learning rate.
# Run with Debian's /usr/bin/python3; paste the printed arrays into the test.
import torch

p0 = torch.tensor([0.5, -1.25, 2.0, 0.0, -0.03125, 3.5], dtype=torch.float64)
grads = [torch.tensor([0.1, -0.2, 0.3, -0.4, 0.5, 0.0], dtype=torch.float64),
         torch.tensor([-0.05, 0.25, 0.125, 0.4, -1.0, 2.0], dtype=torch.float64),
         torch.tensor([0.01, 0.02, -0.03, 0.04, 0.05, -0.06], dtype=torch.float64)]
lrs = [1e-3, 2e-3, 5e-4]
p = p0.clone().requires_grad_(True)
opt = torch.optim.AdamW([p], lr=lrs[0], betas=(0.9, 0.98), eps=1e-6, weight_decay=0.2)
for g, lr in zip(grads, lrs):
    for grp in opt.param_groups:
        grp["lr"] = lr
    p.grad = g.clone()
    opt.step()
    print("{" + ", ".join("%.17g" % v for v in p.detach().tolist()) + "},")
