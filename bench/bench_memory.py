"""Memory check: a step allocates nothing that outlives it, and no array-sized buffer.

For each optimizer (functional and class API), after a warm-up, the resident set
size is read from /proc/self/statm before and after 10,000 steps; the script exits
with status 1 if it grew by more than `--slack-pages` pages. It also traces the peak
of Python-visible allocations (NumPy reports its buffers to tracemalloc) over a few
steps: a temporary half as large as one param would show there, and fails the check
too.

    python bench/bench_memory.py            # prints RSS before/after per optimizer

Exit status: 0 passed, 1 failed, 2 not checked because the compiled backend is not
loaded (the NumPy fallback computes through temporaries by design, and the allocator
may keep the pages it got for them).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tracemalloc
from typing import Any

import _harness as h
import numpy as np

import fastrmsprop

CASES = ("rmsprop", "rmsprop-centered-momentum", "adagrad", "adam", "amsgrad")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=10_000, help="steps measured")
    parser.add_argument("--warmup", type=int, default=200, help="steps before")
    parser.add_argument("--tensors", type=int, default=4, help="params per step")
    parser.add_argument(
        "--size", type=h.parse_count, default=1 << 13, help="elements per param"
    )
    parser.add_argument(
        "--slack-pages", type=int, default=2, help="RSS growth tolerated, in pages"
    )
    parser.add_argument(
        "--dtype", default="float32", choices=sorted(h.DTYPES), help="param dtype"
    )
    return parser.parse_args(argv)


def steppers(variant: h.Variant, problem: h.Problem) -> dict[str, Any]:
    """The functional call and, where the class exists, `Optimizer.step(grads)`."""
    fns: dict[str, Any] = {"functional": h.Stepper(fastrmsprop, problem)}
    cls_name = {"rmsprop": "RMSProp", "adagrad": "Adagrad", "adam": "Adam"}
    cls = getattr(fastrmsprop, cls_name[variant.optimizer], None)
    if cls is not None:
        params = [p.copy() for p in problem.params]
        optimizer = cls(params, lr=h.LR[variant.optimizer], **dict(variant.options))
        grads = problem.grads
        fns["class"] = lambda: optimizer.step(grads)
    return fns


def peak_allocation(fn: Any, steps: int) -> int:
    """Peak bytes allocated (and visible to tracemalloc) above the start, over steps."""
    gc.collect()
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(steps):
            fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - start


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    page = os.sysconf("SC_PAGE_SIZE")
    backend = fastrmsprop.backend()
    if backend != "cpp":
        print(f"backend {backend}: nothing to check without the compiled kernels")
        return 2
    array_bytes = args.size * h.DTYPES[args.dtype].itemsize
    print(
        f"backend {backend}, {args.tensors} params of {args.size} {args.dtype}, "
        f"{args.steps} steps after {args.warmup}; page {page} B"
    )
    print(
        f"{'optimizer':<28}{'api':<12}{'RSS before':>14}{'RSS after':>14}"
        f"{'growth':>10}{'peak alloc':>12}  verdict"
    )
    failed = False
    for name in CASES:
        variant = h.VARIANTS[name]
        problem = h.Problem(variant, h.DTYPES[args.dtype], [args.size] * args.tensors)
        for api, fn in steppers(variant, problem).items():
            for _ in range(args.warmup):
                fn()
            peak = peak_allocation(fn, 20)
            gc.collect()
            before = h.rss_bytes()
            for _ in range(args.steps):
                fn()
            gc.collect()
            after = h.rss_bytes()
            grew = after - before
            bad_rss = grew > args.slack_pages * page
            bad_alloc = peak > array_bytes // 2
            verdict = "ok"
            if bad_rss or bad_alloc:
                failed = True
                verdict = "FAILED: " + ", ".join(
                    why
                    for why, bad in (("RSS grew", bad_rss), ("allocates", bad_alloc))
                    if bad
                )
            mib = 2**20
            print(
                f"{name:<28}{api:<12}{before / mib:>11.2f}MiB{after / mib:>11.2f}MiB"
                f"{grew / 1024:>8.0f}KiB{peak / 1024:>9.1f}KiB  {verdict}"
            )
    if failed:
        print("memory check failed", file=sys.stderr)
        return 1
    print("memory check passed")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
