"""Shared pieces of the benchmarks: variants, steppers, timing, checks and the ceiling.

A *variant* is one optimizer with one set of flags; it fixes which state arrays a
step reads and writes, hence the bytes a step must move:

    bytes per element = 2 * (p + 4 * k) + p

for a param of p bytes and k float32 state arrays (the param and the state are read
and written back, the grad is only read). float32 RMSProp moves 20 bytes per element.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import fastrmsprop
from fastrmsprop import reference

try:
    import ml_dtypes
except ImportError:  # pragma: no cover - ml_dtypes is a dependency of fastrmsprop
    ml_dtypes = None

DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
}
if ml_dtypes is not None:
    DTYPES["bfloat16"] = np.dtype(ml_dtypes.bfloat16)

# Relative tolerance of a checked value against the reference, by param dtype: a few
# float32 ulps, or one ulp of the half type for a param rounded on store.
RTOL = {"float32": 1e-5, "bfloat16": 2.0**-7, "float16": 2.0**-10}


@dataclasses.dataclass(frozen=True)
class Variant:
    """One optimizer with fixed flags: its functional call and its torch twin."""

    name: str
    optimizer: str  # "rmsprop", "adagrad" or "adam"
    states: tuple[str, ...]  # public state names, in the functional call's order
    options: tuple[tuple[str, Any], ...] = ()
    torch_class: str = ""
    torch_options: tuple[tuple[str, Any], ...] = ()

    def bytes_per_element(self, dtype: np.dtype) -> int:
        """Bytes one step must move per element: param and state read and written,
        grad read once."""
        p = np.dtype(dtype).itemsize
        return 2 * (p + 4 * len(self.states)) + p

    def reads_writes(self) -> tuple[int, int]:
        """Number of arrays read and written per step."""
        return 2 + len(self.states), 1 + len(self.states)


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("rmsprop", "rmsprop", ("square_avg",), torch_class="RMSprop"),
        Variant(
            "rmsprop-centered",
            "rmsprop",
            ("square_avg", "grad_avg"),
            (("centered", True),),
            "RMSprop",
            (("centered", True),),
        ),
        Variant(
            "rmsprop-momentum",
            "rmsprop",
            ("square_avg", "momentum_buffer"),
            (("momentum", 0.9),),
            "RMSprop",
            (("momentum", 0.9),),
        ),
        Variant(
            "rmsprop-centered-momentum",
            "rmsprop",
            ("square_avg", "grad_avg", "momentum_buffer"),
            (("centered", True), ("momentum", 0.9)),
            "RMSprop",
            (("centered", True), ("momentum", 0.9)),
        ),
        Variant("adagrad", "adagrad", ("sum",), torch_class="Adagrad"),
        Variant("adam", "adam", ("exp_avg", "exp_avg_sq"), torch_class="Adam"),
        Variant(
            "amsgrad",
            "adam",
            ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
            (("amsgrad", True),),
            "Adam",
            (("amsgrad", True),),
        ),
    ]
}

LR = {"rmsprop": 1e-2, "adagrad": 1e-2, "adam": 1e-3}


class Problem:
    """Params, grads and state of one variant: lists of arrays, one entry per tensor.

    The grads are shared with every implementation that runs on this problem's
    sizes (they are only read); params and states are private to each copy.
    """

    def __init__(
        self,
        variant: Variant,
        dtype: np.dtype,
        sizes: Sequence[int],
        grads: list[np.ndarray] | None = None,
        seed: int = 0,
    ):
        rng = np.random.default_rng(seed)
        self.variant = variant
        self.dtype = np.dtype(dtype)
        self.sizes = list(sizes)
        self.params = [
            rng.standard_normal(n, dtype=np.float32).astype(self.dtype)
            for n in self.sizes
        ]
        if grads is None:
            grads = [
                (rng.standard_normal(n, dtype=np.float32) * 0.1).astype(self.dtype)
                for n in self.sizes
            ]
        self.grads = grads
        self.states = {
            name: [np.zeros(n, np.float32) for n in self.sizes]
            for name in variant.states
        }

    def copy(self, states: bool = True) -> Problem:
        """A problem with its own params (and state, unless `states` is False: torch
        keeps its own) and the same grads."""
        other = Problem.__new__(Problem)
        other.variant, other.dtype, other.sizes = self.variant, self.dtype, self.sizes
        other.params = [p.copy() for p in self.params]
        other.grads = self.grads
        other.states = (
            {k: [a.copy() for a in v] for k, v in self.states.items()} if states else {}
        )
        return other

    @property
    def elements(self) -> int:
        return sum(self.sizes)

    @property
    def nbytes(self) -> int:
        """Bytes one step moves."""
        return self.elements * self.variant.bytes_per_element(self.dtype)


class Stepper:
    """One step of a functional API (fastrmsprop or its reference) on a problem.

    Arrays are passed as one ndarray for a one-tensor problem and as lists
    otherwise, as a user would. ``steps`` is the step number of the last call.
    """

    def __init__(self, module: Any, problem: Problem, steps: int = 0):
        self.module, self.problem, self.steps = module, problem, steps
        v = problem.variant
        single = len(problem.sizes) == 1

        def pack(arrays: list[np.ndarray]) -> Any:
            return arrays[0] if single else arrays

        self.args = [pack(problem.params), pack(problem.grads)]
        self.args += [pack(problem.states[name]) for name in v.states]
        options = dict(v.options)
        self.kwargs: dict[str, Any] = {"lr": LR[v.optimizer]}
        if v.optimizer == "rmsprop":
            self.fn = module.rmsprop_step
            self.args = self.args[:3]
            self.kwargs.update(beta=0.99, eps=1e-8, **options)
            if "grad_avg" in v.states:
                self.kwargs["grad_avgs"] = pack(problem.states["grad_avg"])
            if "momentum_buffer" in v.states:
                self.kwargs["momentum_buffers"] = pack(
                    problem.states["momentum_buffer"]
                )
        elif v.optimizer == "adagrad":
            self.fn = module.adagrad_step
        else:
            self.fn = module.adam_step
            self.args = self.args[:4]
            self.kwargs.update(options)
            if options.get("amsgrad"):
                self.kwargs["max_exp_avg_sqs"] = pack(problem.states["max_exp_avg_sq"])
        self.counts_steps = v.optimizer != "rmsprop"

    def __call__(self) -> None:
        if self.counts_steps:
            self.steps += 1
            self.fn(*self.args, steps=self.steps, **self.kwargs)
        else:
            self.fn(*self.args, **self.kwargs)

    def live(self) -> dict[str, list[np.ndarray]]:
        """The arrays a step writes, by name, as NumPy views."""
        return {"param": self.problem.params, **self.problem.states}

    def next_step(self) -> int:
        return self.steps + 1


class TorchStepper:
    """One ``torch.optim`` step on tensors sharing the problem's memory."""

    def __init__(self, problem: Problem, mode: str, threads: int):
        import torch

        self.torch, self.problem, self.threads = torch, problem, threads
        v = problem.variant
        kwargs: dict[str, Any] = {"lr": LR[v.optimizer], **dict(v.torch_options)}
        if v.optimizer == "rmsprop":
            kwargs.update(alpha=0.99, eps=1e-8)
        kwargs["foreach"] = mode == "foreach"
        if mode == "fused":
            kwargs.update(fused=True, foreach=None)
        self.tensors = [torch.from_numpy(p) for p in problem.params]
        for t, g in zip(self.tensors, problem.grads):
            t.grad = torch.from_numpy(g)
        self.optimizer = getattr(torch.optim, v.torch_class)(self.tensors, **kwargs)
        self.steps = 0

    def __call__(self) -> None:
        self.optimizer.step()
        self.steps += 1

    def live(self) -> dict[str, list[np.ndarray]]:
        live = {"param": self.problem.params}
        if self.steps == 0:
            # torch creates its state on the first step.
            self()
        for name in self.problem.variant.states:
            live[name] = [self.optimizer.state[t][name].numpy() for t in self.tensors]
        return live

    def next_step(self) -> int:
        if self.steps == 0:
            self()
        return int(self.optimizer.state[self.tensors[0]]["step"]) + 1


def have_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def set_threads(n: int, torch_too: bool) -> None:
    """Give fastrmsprop (and torch, which has its own pool) `n` threads."""
    fastrmsprop.set_num_threads(n)
    if torch_too:
        import torch

        torch.set_num_threads(n)


def torch_modes(variant: Variant) -> list[str]:
    """torch.optim implementations of a variant on CPU."""
    modes = ["forloop", "foreach"]
    if variant.torch_class in ("Adam", "Adagrad"):
        modes.append("fused")
    return modes


def _windows(n: int, width: int = 4099) -> list[slice]:
    """Slices covering both ends and an unaligned middle stretch of an array."""
    if n <= 3 * width:
        return [slice(0, n)]
    mid = n // 2 + 13
    return [slice(0, width), slice(mid, mid + width), slice(n - width, n)]


def _fresh(name: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Plausible values of a param or state array: second moments positive and well
    above the square of the first moments."""
    if name == "param":
        return rng.standard_normal(shape)
    if name in ("square_avg", "exp_avg_sq", "max_exp_avg_sq", "sum"):
        return rng.uniform(0.005, 0.015, shape)
    return rng.uniform(-0.05, 0.05, shape)


def check(
    stepper: Any,
    problem: Problem,
    tensors: Sequence[int] | None = None,
) -> tuple[bool, float]:
    """Run one more step of `stepper` and compare what it wrote with the reference.

    Windows of every written array (both ends and an unaligned middle stretch of the
    chosen tensors, all of a small one) are first given fresh values, then copied
    before the step; the reference runs on the copies. Returns (passed, worst error
    in units of the tolerance).
    """
    live = stepper.live()
    t = stepper.next_step()
    if tensors is None:
        tensors = range(len(problem.sizes))
    names = ["param", *problem.variant.states]
    cut = {i: _windows(problem.sizes[i]) for i in tensors}
    # Thousands of timed steps on one constant grad drive the centered variance
    # v - m̄² to a difference of equal numbers, where one rounding decides the
    # result; fresh state keeps the comparison well conditioned.
    rng = np.random.default_rng(7)
    for i in tensors:
        for sl in cut[i]:
            for name in names:
                window = live[name][i][sl]
                window[...] = _fresh(name, window.shape, rng).astype(window.dtype)

    def take(arrays: list[np.ndarray], i: int) -> np.ndarray:
        return np.concatenate([arrays[i][s] for s in cut[i]])

    before = {name: {i: take(live[name], i) for i in tensors} for name in names}
    grads = {i: take(problem.grads, i) for i in tensors}
    stepper()
    after = {name: {i: take(live[name], i) for i in tensors} for name in names}

    small = Problem.__new__(Problem)
    small.variant, small.dtype = problem.variant, problem.dtype
    small.sizes = [len(grads[i]) for i in tensors]
    small.params = [before["param"][i].copy() for i in tensors]
    small.grads = [grads[i] for i in tensors]
    small.states = {
        k: [before[k][i].copy() for i in tensors] for k in problem.variant.states
    }
    Stepper(reference, small, steps=t - 1)()
    expected = {"param": small.params, **small.states}

    rtol = RTOL.get(problem.dtype.name, 1e-12)
    worst = 0.0
    for name in names:
        for j, i in enumerate(tensors):
            got = after[name][i].astype(np.float64)
            want = expected[name][j].astype(np.float64)
            old = before[name][i].astype(np.float64)
            # Scale by the old value too: an update that nearly cancels a param is
            # only as exact as the param was.
            scale = np.maximum(np.abs(want), np.abs(old)) * rtol + 1e-30
            with np.errstate(invalid="ignore"):
                err = np.abs(got - want) / scale
            bad = ~(np.isfinite(got) == np.isfinite(want))
            if bad.any():
                return False, math.inf
            err = np.where(np.isfinite(want), err, 0.0)
            worst = max(worst, float(err.max(initial=0.0)))
    return worst <= 1.0, worst


class Probe:
    """The bandwidth ceiling: a loop moving the problem's traffic, on scratch arrays."""

    def __init__(self, core: Any, problem: Problem):
        self.core = core
        dtype = problem.dtype
        self.updated = [
            [np.ones(n, dtype)]
            + [np.ones(n, np.float32) for _ in problem.variant.states]
            for n in problem.sizes
        ]
        self.read_only = [[np.ones(n, dtype)] for n in problem.sizes]

    def __call__(self) -> None:
        for updated, read_only in zip(self.updated, self.read_only):
            self.core.bandwidth_probe(updated, read_only)


def core_module() -> Any | None:
    """The compiled extension, or None when fastrmsprop runs on NumPy alone."""
    if fastrmsprop.backend() != "cpp":
        return None
    from fastrmsprop import _core

    return _core if hasattr(_core, "bandwidth_probe") else None


@dataclasses.dataclass
class Timing:
    """Seconds per call: median, quartiles and extremes over rounds."""

    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def q1(self) -> float:
        return _quantile(self.samples, 0.25)

    @property
    def q3(self) -> float:
        return _quantile(self.samples, 0.75)

    def as_dict(self) -> dict[str, float]:
        return {
            "median_s": self.median,
            "q1_s": self.q1,
            "q3_s": self.q3,
            "min_s": min(self.samples),
            "max_s": max(self.samples),
            "rounds": len(self.samples),
        }


def _quantile(values: list[float], q: float) -> float:
    return float(np.quantile(np.asarray(values), q))


def calls_per_sample(fn: Callable[[], None], budget: float) -> int:
    """Calls that fill about `budget` seconds, so a sample outlasts timer noise."""
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, min(100_000, int(budget / once)))


def time_interleaved(
    fns: dict[str, Callable[[], None]],
    rounds: int,
    before: dict[str, Callable[[], None]] | None = None,
    budget: float = 2e-3,
    warmup: int = 2,
) -> dict[str, Timing]:
    """Time each callable in turn, `rounds` times round-robin, after warm-up.

    Interleaving exposes every implementation to the same drift of the machine
    (frequency, other load), so ratios within a round are fair. `before[name]`, if
    given, runs untimed before each sample (to switch the instruction set).
    """
    before = before or {}
    inner = {}
    for name, fn in fns.items():
        if name in before:
            before[name]()
        for _ in range(warmup):
            fn()
        inner[name] = calls_per_sample(fn, budget)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in fns.items():
                if name in before:
                    before[name]()
                n = inner[name]
                start = time.perf_counter()
                for _ in range(n):
                    fn()
                samples[name].append((time.perf_counter() - start) / n)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: Timing(s) for name, s in samples.items()}


def machine_info() -> dict[str, Any]:
    """What the numbers depend on: CPU, cores, load, library versions and choices."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "fastrmsprop_backend": fastrmsprop.backend(),
    }
    for key in ("simd_level", "available_simd_levels", "get_num_threads", "build_info"):
        fn = getattr(fastrmsprop, key, None)
        if fn is not None:
            try:
                info[key] = fn()
            except (AttributeError, RuntimeError, TypeError, ValueError) as exc:
                info[key] = repr(exc)
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def rss_bytes() -> int:
    """Resident set size now, from /proc/self/statm where it exists."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        # ru_maxrss is the peak, in KiB on Linux: an upper bound that never shrinks.
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def warn_if_busy() -> None:
    load = os.getloadavg()[0]
    if load > 0.5:
        print(
            f"warning: load average {load:.2f}: other processes share the cores, "
            "expect noisy figures",
            file=sys.stderr,
        )


def parse_count(text: str) -> int:
    """'1e6' or '1000000' -> 1000000."""
    value = float(text)
    if value != int(value) or value < 0:
        raise ValueError(f"not a count: {text}")
    return int(value)
