"""Reads the JSON of bench_optim.py and bench_overhead.py and grades the speed targets.

    python bench/targets.py bench/results/optim_6e7.json bench/results/optim.json \\
        bench/results/overhead.json

Each line names a target, the measured figure and whether it is met. A target whose
measurement is missing from the files given is reported as such, never as met.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any

MAIN_VARIANTS = ("rmsprop", "rmsprop-centered", "rmsprop-momentum", "adagrad", "adam")


def best_fastrmsprop(rows: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The fastest fastrmsprop row (over instruction sets) among `rows`."""
    mine = [r for r in rows if r["implementation"].startswith("fastrmsprop")]
    return min(mine, key=lambda r: r["median_s"]) if mine else None


def groups(rows: list[dict[str, Any]]) -> dict[tuple, list[dict[str, Any]]]:
    out: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        key = (r["variant"], r["dtype"], r["size"], r["threads"])
        out.setdefault(key, []).append(r)
    return out


def grade_optim(rows: list[dict[str, Any]]) -> list[tuple[str, str, bool | None]]:
    lines: list[tuple[str, str, bool | None]] = []
    by_group = groups(rows)
    big = [k for k in by_group if k[2] >= 60_000_000 and k[1] == "float32"]
    for variant in MAIN_VARIANTS:
        keys = sorted(k for k in big if k[0] == variant)
        if not keys:
            lines.append((f"{variant} f32 ≥6e7: ≥90% of ceiling", "not measured", None))
        for key in keys:
            row = best_fastrmsprop(by_group[key])
            frac = row["ceiling_fraction"] if row else None
            lines.append(
                (
                    f"{variant} f32 {key[2]:.0e}, {key[3]} thr: ≥90% of ceiling",
                    f"{frac:.0%} ({row['implementation']}, {row['gb_per_s']:.1f} GB/s)"
                    if frac
                    else "no ceiling",
                    frac >= 0.9 if frac else None,
                )
            )
    for key in sorted(k for k in big if k[0] == "rmsprop"):
        row = best_fastrmsprop(by_group[key])
        torch = [r for r in by_group[key] if r["implementation"] == "torch-forloop"]
        if row and torch:
            ratio = torch[0]["median_s"] / row["median_s"]
            lines.append(
                (
                    f"rmsprop f32 {key[2]:.0e}, {key[3]} thr: ≥6× torch for-loop",
                    f"{ratio:.2f}×",
                    ratio >= 6,
                )
            )
    for variant in ("adam", "adagrad"):
        worst = None
        for key, group in sorted(by_group.items()):
            if key[0] != variant or key[1] != "float32":
                continue
            row = best_fastrmsprop(group)
            fused = [r for r in group if r["implementation"] == "torch-fused"]
            if row and fused:
                ratio = fused[0]["median_s"] / row["median_s"]
                if worst is None or ratio < worst[0]:
                    worst = (ratio, key)
        if worst:
            ratio, key = worst
            lines.append(
                (
                    f"{variant} f32: ≥ torch fused=True at every size",
                    f"worst {ratio:.2f}× at {key[2]:.0e}, {key[3]} thr",
                    ratio >= 1,
                )
            )
    for key, group in sorted(by_group.items()):
        if key[:3] == ("rmsprop", "float32", 100_000):
            row = best_fastrmsprop(group)
            if row:
                per_thread = row["elements_per_s"] / key[3]
                lines.append(
                    (
                        f"rmsprop f32 1e5, {key[3]} thr: ≥4e9 elem/s/thread (AVX-512)",
                        f"{per_thread:.2e} ({row['implementation']})",
                        per_thread >= 4e9,
                    )
                )
    return lines


def grade_overhead(data: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    lines: list[tuple[str, str, bool | None]] = []
    for r in data["marginal"]:
        if r["implementation"] != "fastrmsprop":
            continue
        lines.append(
            (
                f"{r['variant']}: fixed cost of one call ≤ 3 µs",
                f"{r['one_tensor_s'] * 1e6:.2f} µs (fit {r['fit_fixed_s'] * 1e6:.2f})",
                r["one_tensor_s"] <= 3e-6,
            )
        )
        lines.append(
            (
                f"{r['variant']}: each extra tensor ≤ 0.2 µs",
                f"{r['fit_per_tensor_s'] * 1e6:.3f} µs",
                r["fit_per_tensor_s"] <= 0.2e-6,
            )
        )
    for r in data["many_tensors"]:
        secs = r["seconds"]
        flat = secs.get("fastrmsprop (flat)")
        many = secs.get("fastrmsprop (500 tensors)")
        if flat and many:
            target = r["tensor_elements"] >= 20_000
            lines.append(
                (
                    f"{r['variant']} 500×{r['tensor_elements']}, {r['threads']} thr: "
                    + ("within 10% of flat" if target else "vs flat (no target)"),
                    f"{many / flat:.3f}× flat time",
                    many / flat <= 1.1 if target else None,
                )
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="JSON written by the benchmarks")
    args = parser.parse_args(argv)
    lines = []
    for path in args.files:
        with open(path) as f:
            data = json.load(f)
        if "rows" in data:
            lines += grade_optim(data["rows"])
        if "marginal" in data:
            lines += grade_overhead(data)
    for target, measured, met in lines:
        verdict = {True: "met", False: "MISSED", None: "-"}[met]
        print(f"{target:<56}{measured:<40}{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
