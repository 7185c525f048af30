#!/usr/bin/python3
"""bench_torch.py: PyTorch's throughput for the same image towers, printed for
coop-bench-vision to show next to its own (benchmark only; never a test or a
build step). Usage: bench_torch.py vit_b16|rn50 BATCH REPS THREADS
Prints "images_per_s <float>" (best wall time) and "cpu_s_per_image <float>"
(process CPU time of that repetition, all threads)."""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "fixtures", "vision"))
from gen_vision import ModifiedResNet, VisionTransformer  # noqa: E402


def main():
    model, batch, reps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if model == "vit_b16":
        m = VisionTransformer(224, 16, 768, 12, 12, 512)
    else:
        m = ModifiedResNet([3, 4, 6, 3], 1024, 32, 224, 64)
    m = m.float().eval()
    x = torch.randn(batch, 3, 224, 224)
    with torch.inference_mode():
        m(x)  # warm-up
        best, best_cpu = float("inf"), float("inf")
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.process_time()
            m(x)
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
    print("images_per_s %.4f" % (batch / best))
    print("cpu_s_per_image %.5f" % (best_cpu / batch))


if __name__ == "__main__":
    main()
