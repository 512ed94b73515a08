"""Step throughput of every optimizer variant against the memory ceiling and its peers.

For each variant, param dtype, size, thread count and instruction set, one table row
per implementation: the median time of a step and its interquartile spread, ns per
element, elements/s, effective GB/s from the bytes the variant must move, and the
fraction of the ceiling measured in the same run by a probe loop that moves exactly
that traffic with the same threads. Peers run in the same process on the same
threads: the NumPy reference and, when torch is installed, torch.optim (for-loop,
foreach and, for Adam and Adagrad, fused). Every implementation is checked against
the reference before anything is printed.

    python bench/bench_optim.py                      # default set, a few minutes
    python bench/bench_optim.py --sizes 6e7 --variants rmsprop,adam --json out.json
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

DEFAULT_SIZES = "1e3,1e4,1e5,1e6,1e7"
LARGE_SIZES = (60_000_000, 100_000_000)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--variants",
        default=",".join(h.VARIANTS),
        help="comma-separated variants: " + ", ".join(h.VARIANTS),
    )
    parser.add_argument(
        "--dtypes",
        default="float32",
        help="comma-separated param dtypes: " + ", ".join(h.DTYPES),
    )
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help="comma-separated element counts (1e6 style accepted)",
    )
    parser.add_argument(
        "--large",
        action="store_true",
        help="add 6e7 and 1e8 elements (needs several GB of RAM)",
    )
    parser.add_argument(
        "--threads",
        default=None,
        help="comma-separated thread counts; none given: 1 and all cores",
    )
    parser.add_argument(
        "--simd",
        default=None,
        help="comma-separated instruction sets; none given: all available",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=7,
        help="timed samples per implementation, after warm-up",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=2e-3,
        help="seconds per sample: small steps are repeated to fill it",
    )
    parser.add_argument("--no-torch", action="store_true", help="leave torch out")
    parser.add_argument(
        "--no-numpy",
        action="store_true",
        help="leave the NumPy reference out of the timings",
    )
    parser.add_argument("--json", metavar="PATH", help="write every row to PATH")
    parser.add_argument(
        "--plot",
        metavar="PATH",
        help="PNG of throughput against size (needs matplotlib)",
    )
    args = parser.parse_args(argv)
    args.variants = [h.VARIANTS[v] for v in _split(args.variants, h.VARIANTS)]
    args.dtypes = _split(args.dtypes, h.DTYPES)
    args.sizes = sorted(
        {h.parse_count(s) for s in args.sizes.split(",")}
        | (set(LARGE_SIZES) if args.large else set())
    )
    cores = os.cpu_count() or 1
    args.threads = (
        sorted({1, cores})
        if args.threads is None
        else [int(t) for t in args.threads.split(",")]
    )
    available = list(fastrmsprop.available_simd_levels())
    args.simd = available if args.simd is None else _split(args.simd, available)
    return args


def _split(text: str, allowed: Any) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    for item in items:
        if item not in allowed:
            raise SystemExit(
                f"unknown choice {item!r}; expected one of {', '.join(allowed)}"
            )
    return items


def run_group(
    args: argparse.Namespace,
    core: Any,
    variant: h.Variant,
    dtype: str,
    size: int,
    threads: int,
    use_torch: bool,
) -> list[dict[str, Any]]:
    """Time every implementation of one (variant, dtype, size, threads) in rounds."""
    problem = h.Problem(variant, h.DTYPES[dtype], [size])
    fns: dict[str, Any] = {}
    before: dict[str, Any] = {}
    if core is not None:
        fns["ceiling"] = h.Probe(core, problem)
    # Every fastrmsprop level and the reference step the same arrays: each call is a
    # genuine step, and one copy of a large problem is all the memory it takes.
    for level in args.simd:
        name = f"fastrmsprop-{level}"
        fns[name] = h.Stepper(fastrmsprop, problem)
        before[name] = lambda level=level: fastrmsprop.set_simd_level(level)
    if not args.no_numpy:
        fns["numpy-reference"] = h.Stepper(h.reference, problem)
    if use_torch and dtype == "float32":
        torch_problem = problem.copy(states=False)
        for mode in h.torch_modes(variant):
            fns[f"torch-{mode}"] = h.TorchStepper(torch_problem, mode, threads)

    h.set_threads(threads, use_torch)
    timings = h.time_interleaved(fns, args.rounds, before, budget=args.budget)

    checks: dict[str, tuple[bool, float]] = {}
    for name, fn in fns.items():
        if name in before:
            before[name]()
        if name != "ceiling":
            checks[name] = h.check(fn, fn.problem)
    fastrmsprop.set_simd_level(args.simd[-1])

    rows = []
    ceiling = timings.get("ceiling")
    torch_loop = timings.get("torch-forloop")
    for name, timing in timings.items():
        t = timing.median
        ok, err = checks.get(name, (True, 0.0))
        rows.append(
            {
                "variant": variant.name,
                "dtype": dtype,
                "size": size,
                "threads": threads,
                "implementation": name,
                **timing.as_dict(),
                "iqr_fraction": (timing.q3 - timing.q1) / t,
                "ns_per_element": t / size * 1e9,
                "elements_per_s": size / t,
                "bytes_per_step": problem.nbytes,
                "gb_per_s": problem.nbytes / t / 1e9,
                "ceiling_fraction": ceiling.median / t if ceiling else None,
                "speedup_vs_torch_forloop": torch_loop.median / t
                if torch_loop
                else None,
                "check": "ok" if ok else "FAILED",
                "check_error": err,
            }
        )
    return rows


HEADER = (
    f"{'variant':<26}{'dtype':<9}{'size':>10}{'thr':>4}  {'implementation':<20}"
    f"{'median':>10}{'iqr':>6}{'ns/el':>8}{'Gel/s':>7}{'GB/s':>7}"
    f"{'ceil':>6}{'×torch':>7}  check"
)


def format_row(row: dict[str, Any]) -> str:
    def opt(value: float | None, fmt: str) -> str:
        return format(value, fmt) if value is not None else "-"

    return (
        f"{row['variant']:<26}{row['dtype']:<9}{row['size']:>10.0e}"
        f"{row['threads']:>4}  {row['implementation']:<20}"
        f"{_duration(row['median_s']):>10}{row['iqr_fraction']:>6.0%}"
        f"{row['ns_per_element']:>8.3f}{row['elements_per_s'] / 1e9:>7.2f}"
        f"{row['gb_per_s']:>7.1f}"
        f"{opt(row['ceiling_fraction'], '.0%'):>6}"
        f"{opt(row['speedup_vs_torch_forloop'], '.1f'):>7}  {row['check']}"
    )


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def plot(rows: list[dict[str, Any]], path: str) -> None:
    """GB/s against size for float32: a row of panels per variant, a column per
    thread count, one line per implementation and the ceiling dashed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return
    chosen = [r for r in rows if r["dtype"] == "float32"]
    variants = list(dict.fromkeys(r["variant"] for r in chosen))
    threads = sorted({r["threads"] for r in chosen})
    impls = list(dict.fromkeys(r["implementation"] for r in chosen))
    if not variants:
        return
    palette = plt.get_cmap("tab10")
    styles = {
        impl: {"color": "black", "linestyle": "--"}
        if impl == "ceiling"
        else {"color": palette(i % 10)}
        for i, impl in enumerate(impls)
    }
    fig, axes = plt.subplots(
        len(variants),
        len(threads),
        figsize=(4.2 * len(threads), 2.6 * len(variants)),
        squeeze=False,
        sharex=True,
    )
    for row_axes, variant in zip(axes, variants):
        for ax, n_threads in zip(row_axes, threads):
            mine = [
                r
                for r in chosen
                if r["variant"] == variant and r["threads"] == n_threads
            ]
            for impl in impls:
                pts = sorted(
                    (r["size"], r["gb_per_s"])
                    for r in mine
                    if r["implementation"] == impl
                )
                if pts:
                    ax.plot(*zip(*pts), marker="o", markersize=2.5, **styles[impl])
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{variant}, {n_threads} thread(s)", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(True, which="major", alpha=0.3)
        row_axes[0].set_ylabel("effective GB/s", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("elements", fontsize=8)
    handles = [plt.Line2D([], [], **styles[impl]) for impl in impls]
    fig.legend(handles, impls, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06 if len(variants) < 3 else 0.03, 1, 1))
    fig.savefig(path, dpi=60)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    core = h.core_module()
    if core is None:
        print(
            "warning: the compiled extension is not loaded (backend "
            f"{fastrmsprop.backend()!r}): no ceiling, and fastrmsprop rows time the "
            "NumPy fallback",
            file=sys.stderr,
        )
    use_torch = not args.no_torch and h.have_torch()
    h.warn_if_busy()
    info = h.machine_info()
    print(
        f"# {info['cpu']}, {info['cores']} cores, simd {args.simd}, "
        f"torch {info['torch']}, numpy {info['numpy']}, "
        f"load {info['load_average_1min']:.2f}"
    )
    print(HEADER)
    rows: list[dict[str, Any]] = []
    for variant in args.variants:
        for dtype in args.dtypes:
            for size in args.sizes:
                for threads in args.threads:
                    group = run_group(
                        args, core, variant, dtype, size, threads, use_torch
                    )
                    for row in group:
                        print(format_row(row), flush=True)
                    print()
                    rows += group
    failed = [r for r in rows if r["check"] != "ok"]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "command": " ".join(["bench/bench_optim.py", *sys.argv[1:]]),
                    "machine": info,
                    "rows": rows,
                },
                f,
                indent=1,
            )
        print(f"wrote {args.json}")
    if args.plot:
        plot(rows, args.plot)
    if failed:
        print(f"{len(failed)} results differ from the reference", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
