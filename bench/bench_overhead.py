"""Per-call and per-tensor cost of a step, and many small tensors against one flat one.

Three measurements, each next to torch.optim where it is installed:

- fixed cost: one step on one tensor of 8 elements, where nothing but overhead is left;
- marginal cost: steps on 1..500 tensors of 8 elements each, and the least-squares
  line t(k) = a + b·k through them (a is the fixed cost, b the cost per extra tensor);
- many tensors: 500 tensors of 20,000 (and of 200) elements against one flat tensor of
  the same total, same threads, with the ceiling of the flat tensor.

    python bench/bench_overhead.py --json bench/results/overhead.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import _harness as h
import numpy as np

import fastrmsprop

COUNTS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 500)
TINY = 8


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--variants",
        default="rmsprop,adagrad,adam",
        help="comma-separated variants: " + ", ".join(h.VARIANTS),
    )
    parser.add_argument(
        "--threads",
        default=None,
        help="comma-separated thread counts for the many-tensor case "
        "(default: 1 and all cores)",
    )
    parser.add_argument(
        "--rounds", type=int, default=9, help="timed samples per implementation"
    )
    parser.add_argument("--budget", type=float, default=5e-3, help="seconds per sample")
    parser.add_argument("--no-torch", action="store_true", help="leave torch out")
    parser.add_argument("--json", metavar="PATH", help="write the results to PATH")
    args = parser.parse_args(argv)
    args.variants = [h.VARIANTS[v.strip()] for v in args.variants.split(",")]
    cores = os.cpu_count() or 1
    args.threads = (
        sorted({1, cores})
        if args.threads is None
        else [int(t) for t in args.threads.split(",")]
    )
    return args


def implementations(
    problem: h.Problem,
    use_torch: bool,
    threads: int,
) -> dict[str, Any]:
    """fastrmsprop's functional call and the torch.optim peers, on one problem."""
    fns: dict[str, Any] = {"fastrmsprop": h.Stepper(fastrmsprop, problem)}
    if use_torch and problem.variant.torch_class:
        torch_problem = problem.copy(states=False)
        for mode in h.torch_modes(problem.variant):
            fns[f"torch-{mode}"] = h.TorchStepper(torch_problem, mode, threads)
    return fns


def class_stepper(problem: h.Problem) -> Any | None:
    """`Optimizer.step(grads)` of the class API on the problem's params."""
    v = problem.variant
    cls = {"rmsprop": "RMSProp", "adagrad": "Adagrad", "adam": "Adam"}[v.optimizer]
    if not hasattr(fastrmsprop, cls):
        return None
    optimizer = getattr(fastrmsprop, cls)(
        problem.params, lr=h.LR[v.optimizer], **dict(v.options)
    )
    grads = problem.grads
    return lambda: optimizer.step(grads)


def fixed_and_marginal(
    args: argparse.Namespace,
    use_torch: bool,
) -> list[dict[str, Any]]:
    """Time per call against the number of tiny tensors; fit a + b·k."""
    threads = max(args.threads)
    h.set_threads(threads, use_torch)
    results = []
    for variant in args.variants:
        per_count: dict[str, list[float]] = {}
        for k in COUNTS:
            problem = h.Problem(variant, np.float32, [TINY] * k, seed=k)
            fns = implementations(problem, use_torch, threads)
            step = class_stepper(problem.copy())
            if step is not None:
                fns["fastrmsprop-class"] = step
            timings = h.time_interleaved(fns, args.rounds, budget=args.budget)
            for name, timing in timings.items():
                per_count.setdefault(name, []).append(timing.median)
            if k == 1:
                for name, fn in fns.items():
                    if hasattr(fn, "problem"):
                        ok, err = h.check(fn, fn.problem)
                        if not ok:
                            raise SystemExit(
                                f"{variant.name} {name}: differs from "
                                f"the reference ({err:.2g} tolerances)"
                            )
        for name, times in per_count.items():
            slope, intercept = np.polyfit(np.array(COUNTS, float), np.array(times), 1)
            results.append(
                {
                    "variant": variant.name,
                    "implementation": name,
                    "threads": threads,
                    "tensor_elements": TINY,
                    "counts": list(COUNTS),
                    "seconds": times,
                    "one_tensor_s": times[0],
                    "fit_fixed_s": float(intercept),
                    "fit_per_tensor_s": float(slope),
                }
            )
    return results


def many_tensors(
    args: argparse.Namespace,
    core: Any,
    use_torch: bool,
) -> list[dict[str, Any]]:
    """500 tensors of n elements against one flat tensor of 500·n."""
    results = []
    for n in (20_000, 200):
        for variant in args.variants:
            for threads in args.threads:
                h.set_threads(threads, use_torch)
                many = h.Problem(variant, np.float32, [n] * 500, seed=1)
                flat = h.Problem(variant, np.float32, [n * 500], seed=2)
                fns: dict[str, Any] = {}
                if core is not None:
                    fns["ceiling (flat)"] = h.Probe(core, flat)
                for label, problem in (("flat", flat), ("500 tensors", many)):
                    for name, fn in implementations(
                        problem, use_torch, threads
                    ).items():
                        fns[f"{name} ({label})"] = fn
                timings = h.time_interleaved(fns, args.rounds, budget=args.budget)
                for name, fn in fns.items():
                    if hasattr(fn, "problem"):
                        tensors = [0, 250, 499] if "500" in name else None
                        ok, err = h.check(fn, fn.problem, tensors)
                        if not ok:
                            raise SystemExit(
                                f"{name}: differs from the reference "
                                f"({err:.2g} tolerances)"
                            )
                row = {
                    "variant": variant.name,
                    "tensor_elements": n,
                    "tensors": 500,
                    "threads": threads,
                    "seconds": {k: t.median for k, t in timings.items()},
                    "iqr_fraction": {
                        k: (t.q3 - t.q1) / t.median for k, t in timings.items()
                    },
                }
                results.append(row)
    return results


def print_marginal(rows: list[dict[str, Any]]) -> None:
    print(
        f"\nOne step on k tensors of {TINY} float32 elements, "
        f"{rows[0]['threads']} threads: t(k) = a + b·k fitted over k = "
        f"{COUNTS[0]}..{COUNTS[-1]}"
    )
    print(
        f"{'variant':<10}{'implementation':<20}{'k=1':>10}{'k=500':>10}"
        f"{'a (fixed)':>11}{'b (per tensor)':>16}"
    )
    for r in rows:
        print(
            f"{r['variant']:<10}{r['implementation']:<20}"
            f"{r['one_tensor_s'] * 1e6:>8.2f}µs{r['seconds'][-1] * 1e6:>8.1f}µs"
            f"{r['fit_fixed_s'] * 1e6:>9.2f}µs{r['fit_per_tensor_s'] * 1e6:>13.3f}µs"
        )


def print_many(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        secs = r["seconds"]
        flat = secs.get("fastrmsprop (flat)")
        many = secs.get("fastrmsprop (500 tensors)")
        print(
            f"\n{r['variant']}: 500 × {r['tensor_elements']} elements against one "
            f"flat tensor of {500 * r['tensor_elements']}, {r['threads']} threads"
            + (
                f": 500 tensors take {many / flat:.3f}× the flat time"
                if flat and many
                else ""
            )
        )
        for name, t in secs.items():
            ratio = f"{flat / t:6.2f}× fastrmsprop-flat speed" if flat else ""
            print(
                f"  {name:<32}{t * 1e6:>10.1f} µs  ±{r['iqr_fraction'][name]:>4.0%}"
                f"  {ratio}"
            )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    core = h.core_module()
    use_torch = not args.no_torch and h.have_torch()
    h.warn_if_busy()
    info = h.machine_info()
    print(
        f"# {info['cpu']}, {info['cores']} cores, backend {info['fastrmsprop_backend']}"
        f", simd {info.get('simd_level')}, torch {info['torch']}, "
        f"load {info['load_average_1min']:.2f}"
    )
    marginal = fixed_and_marginal(args, use_torch)
    print_marginal(marginal)
    many = many_tensors(args, core, use_torch)
    print_many(many)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "command": " ".join(["bench/bench_overhead.py", *sys.argv[1:]]),
                    "machine": info,
                    "marginal": marginal,
                    "many_tensors": many,
                },
                f,
                indent=1,
            )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
