"""The compiled kernel against the NumPy reference, for every variant and level.

Every flag combination of every optimizer runs for several steps with a changing lr,
for each param dtype, on every SIMD level the CPU has and on 1 and 2 threads, over
sizes around the vector widths; params and every state array are compared
elementwise with the one tolerance table below. On top: bitwise determinism across
thread counts, many tensors in one call, and multi-dimensional shapes.

This module needs the compiled backend. Without it the collection fails, unless
``FASTRMSPROP_BACKEND=numpy`` says the NumPy fallback was chosen on purpose.
"""

from __future__ import annotations

import functools
import itertools
import os
from dataclasses import dataclass, field
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import fastrmsprop
from fastrmsprop import reference

if fastrmsprop.backend() != "cpp":
    if os.environ.get("FASTRMSPROP_BACKEND") == "numpy":
        pytest.skip(
            "FASTRMSPROP_BACKEND=numpy: the compiled kernel is switched off",
            allow_module_level=True,
        )
    pytest.fail(
        f"fastrmsprop.backend() is {fastrmsprop.backend()!r}: the compiled extension "
        "did not load, so the kernel cannot be tested (set FASTRMSPROP_BACKEND=numpy "
        "to test the NumPy fallback on purpose)",
        pytrace=False,
    )

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = {"float32": F32, "float64": F64, "float16": F16, "bfloat16": BF16}

# Tolerance of the kernel against the reference after one step from the same param
# and state: |kernel - reference| <= atol + rtol·|reference|, for values of order 1.
# - float32, float64: the kernel fuses multiply-adds and orders some products
#   differently; each array ends a few ulps from the reference (rtol, 16 ulps). Where
#   terms of opposite sign nearly cancel (β·m + (1-β)·g, μ·b + u with |u| up to
#   ~3, θ - γ·u) the error is a few ulps of the terms, not of the result (atol, 64
#   ulps of 1). Measured worst case over every variant here: 0.1 of this bound.
# - float16, bfloat16: the float32 math differs as above, which can round the param
#   to the neighbour of the reference value on store: one half-precision ulp, at
#   most 2⁻¹⁰ (float16) or 2⁻⁷ (bfloat16) of the value. Their state is float32,
#   computed from the same param, so it keeps the float32 tolerance.
FLOAT32 = {"rtol": 16 * float(np.finfo(F32).eps), "atol": 64 * float(np.finfo(F32).eps)}
FLOAT64 = {"rtol": 16 * float(np.finfo(F64).eps), "atol": 64 * float(np.finfo(F64).eps)}
TOLERANCE = {
    F64: {"param": FLOAT64, "state": FLOAT64},
    F32: {"param": FLOAT32, "state": FLOAT32},
    F16: {"param": {"rtol": 2.0**-10, "atol": 2.0**-24}, "state": FLOAT32},
    BF16: {"param": {"rtol": 2.0**-7, "atol": 2.0**-24}, "state": FLOAT32},
}

SIMD_LEVELS = fastrmsprop.available_simd_levels()
# Around the vector widths (4 and 8 lanes for AVX2 float64 and float32, 16 with
# AVX-512) and the 64-element chunks the threads share out.
SMALL_SIZES = (0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65)
HUGE_SIZE = 1_000_003  # odd, and over the size where a call uses a second thread
THREADS = (1, 2)
LRS = (1e-2, 5e-3, 2e-3, 1e-3, 5e-4)  # a changing lr tells lr_in_momentum apart


@dataclass(frozen=True)
class Variant:
    """One optimizer with one set of flags, callable on the kernel or the reference."""

    optimizer: str  # rmsprop, adagrad, adam or adamw
    hyper: dict[str, Any]
    name: str
    initial: dict[str, float] = field(default_factory=dict)

    @property
    def coupled_weight_decay(self) -> bool:
        """Whether the weight decay is added to the gradient."""
        decoupled = self.optimizer == "adamw" or self.hyper.get(
            "decoupled_weight_decay", False
        )
        return bool(self.hyper.get("weight_decay")) and not decoupled

    @property
    def state_names(self) -> tuple[str, ...]:
        if self.optimizer == "rmsprop":
            names = ["square_avg"]
            if self.hyper.get("centered"):
                names.append("grad_avg")
            if self.hyper.get("momentum"):
                names.append("momentum_buffer")
            return tuple(names)
        if self.optimizer == "adagrad":
            return ("sum",)
        if self.hyper.get("amsgrad"):
            return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        return ("exp_avg", "exp_avg_sq")

    def step(self, api, param, grad, state: dict, lr: float, t: int) -> Any:
        """One update through ``api`` (``fastrmsprop`` or its reference)."""
        if self.optimizer == "rmsprop":
            return api.rmsprop_step(
                param,
                grad,
                state["square_avg"],
                lr=lr,
                grad_avgs=state.get("grad_avg"),
                momentum_buffers=state.get("momentum_buffer"),
                **self.hyper,
            )
        if self.optimizer == "adagrad":
            return api.adagrad_step(
                param, grad, state["sum"], lr=lr, steps=t, **self.hyper
            )
        step = api.adam_step if self.optimizer == "adam" else api.adamw_step
        return step(
            param,
            grad,
            state["exp_avg"],
            state["exp_avg_sq"],
            lr=lr,
            steps=t,
            max_exp_avg_sqs=state.get("max_exp_avg_sq"),
            **self.hyper,
        )


def rmsprop_variants() -> list[Variant]:
    decays = {
        "wd_none": {},
        "wd_coupled": {"weight_decay": 0.1},
        "wd_decoupled": {"weight_decay": 0.1, "decoupled_weight_decay": True},
    }
    momenta = {
        "mom_0": {},
        "mom_lr_outside": {"momentum": 0.9},
        "mom_lr_outside_nesterov": {"momentum": 0.9, "nesterov": True},
        "mom_lr_inside": {"momentum": 0.9, "lr_in_momentum": True},
        "mom_lr_inside_nesterov": {
            "momentum": 0.9,
            "lr_in_momentum": True,
            "nesterov": True,
        },
    }
    variants = []
    for (decay, d), (mom, m), centered, maximize, inside in itertools.product(
        decays.items(), momenta.items(), (False, True), (False, True), (False, True)
    ):
        hyper = {
            "beta": 0.9,
            "eps": 1e-6,
            **d,
            **m,
            "centered": centered,
            "maximize": maximize,
            "eps_in_sqrt": inside,
        }
        flags = [decay, mom, "centered" if centered else "uncentered"]
        flags += ["maximize"] if maximize else []
        flags += ["eps_inside" if inside else "eps_outside"]
        variants.append(Variant("rmsprop", hyper, "rmsprop-" + "-".join(flags)))
    return variants


def adagrad_variants() -> list[Variant]:
    variants = []
    for lr_decay, wd, initial, inside, maximize in itertools.product(
        (0.0, 0.1), (0.0, 0.1), (0.0, 0.1), (False, True), (False, True)
    ):
        hyper = {
            "lr_decay": lr_decay,
            "weight_decay": wd,
            "eps": 1e-6,
            "eps_in_sqrt": inside,
            "maximize": maximize,
        }
        flags = [f"lr_decay_{lr_decay:g}", f"wd_{wd:g}", f"sum0_{initial:g}"]
        flags += ["eps_inside" if inside else "eps_outside"]
        flags += ["maximize"] if maximize else []
        name = "adagrad-" + "-".join(flags)
        variants.append(Variant("adagrad", hyper, name, {"sum": initial}))
    return variants


def adam_variants() -> list[Variant]:
    variants = []
    for optimizer, wd, amsgrad, maximize in itertools.product(
        ("adam", "adamw"), (0.0, 0.1), (False, True), (False, True)
    ):
        if optimizer == "adamw" and wd == 0.0:
            continue  # AdamW without weight decay is Adam
        hyper = {"weight_decay": wd, "amsgrad": amsgrad, "maximize": maximize}
        flags = [f"wd_{wd:g}"] + ["amsgrad"] * amsgrad + ["maximize"] * maximize
        variants.append(Variant(optimizer, hyper, f"{optimizer}-" + "-".join(flags)))
    return variants


VARIANTS = rmsprop_variants() + adagrad_variants() + adam_variants()
BY_NAME = {v.name: v for v in VARIANTS}
HUGE_VARIANTS = [  # one plain and one with every flag per optimizer family
    BY_NAME["rmsprop-wd_none-mom_0-uncentered-eps_outside"],
    BY_NAME["rmsprop-wd_coupled-mom_lr_inside_nesterov-centered-maximize-eps_inside"],
    BY_NAME["rmsprop-wd_decoupled-mom_lr_outside-uncentered-eps_outside"],
    BY_NAME["adagrad-lr_decay_0.1-wd_0.1-sum0_0.1-eps_inside-maximize"],
    BY_NAME["adam-wd_0.1-amsgrad-maximize"],
    BY_NAME["adamw-wd_0.1-amsgrad"],
]


@dataclass
class Problem:
    """Initial param, state and per-step grads of one test run."""

    param: np.ndarray
    grads: list[np.ndarray]
    state: dict[str, np.ndarray]

    def copy(self, part: slice = slice(None)) -> Problem:
        """Fresh C-contiguous copies, of the elements in ``part`` only if given."""
        return Problem(
            self.param[part].copy(),
            [g[part].copy() for g in self.grads],
            {k: v[part].copy() for k, v in self.state.items()},
        )


@functools.lru_cache(maxsize=4)
def random_values(size: int, steps: int, seed: int) -> tuple[np.ndarray, ...]:
    """Param values and per-step grads in float64, kept for the tests that follow.

    Params lie in ±[0.5, 2], away from 0, so θ keeps its sign over the steps. Grad
    magnitudes spread from 1e-4 to 1 so that ε and its placement matter for some
    elements. Read-only, because every test takes copies.
    """
    rng = np.random.default_rng(seed)
    param = rng.uniform(0.5, 2.0, size) * rng.choice([-1.0, 1.0], size)
    grads = [
        rng.standard_normal(size) * 10.0 ** rng.uniform(-4.0, 0.0, size)
        for _ in range(steps)
    ]
    for array in [param, *grads]:
        array.flags.writeable = False
    return (param, *grads)


def make_problem(
    variant: Variant, dtype: np.dtype, size: int, steps: int, seed: int = 0
) -> Problem:
    param, *grads = random_values(size, steps, seed)
    if variant.coupled_weight_decay:
        # g + λ·θ could cancel to a few ulps of λ·θ, and the first steps divide that
        # by itself (u ≈ g/(c·|g| + ε)): one rounding of a fused versus a separate
        # multiply-add then moves u by up to γ. No implementation gets such elements
        # right, so each grad takes the sign that adds to λ·θ.
        flip = -1.0 if variant.hyper.get("maximize") else 1.0
        grads = [np.abs(g) * np.sign(param) * flip for g in grads]
    state_dtype = F64 if dtype == F64 else F32
    state = {
        name: np.full(size, variant.initial.get(name, 0.0), state_dtype)
        for name in variant.state_names
    }
    return Problem(param.astype(dtype), [g.astype(dtype) for g in grads], state)


def run(api, variant: Variant, problem: Problem) -> Problem:
    """All steps of ``problem`` through ``api``, in place; returns the problem."""
    for t, grad in enumerate(problem.grads, start=1):
        variant.step(api, problem.param, grad, problem.state, LRS[t - 1], t)
    return problem


def joined(parts: list[Problem], step: int | None = None) -> Problem:
    """The parts laid end to end (with the grad of ``step`` only, if given)."""
    grads = []
    if step is not None:
        grads = [np.concatenate([p.grads[step - 1] for p in parts])]
    state = {k: np.concatenate([p.state[k] for p in parts]) for k in parts[0].state}
    return Problem(np.concatenate([p.param for p in parts]), grads, state)


def check_steps(variant: Variant, parts: list[Problem], dtype, context: str) -> None:
    """Run every step of every part on the kernel, checking each against the reference.

    Before each step the reference takes a copy of the kernel's param and state, so
    each comparison covers one step and the tolerance need not grow with the steps;
    the kernel itself runs on, so a state it carries wrongly still shows. The
    reference is elementwise, so one call over the parts laid end to end serves all.
    """
    sizes = [p.param.size for p in parts]
    for t in range(1, len(parts[0].grads) + 1):
        expected = joined(parts, t)
        for part in parts:
            variant.step(
                fastrmsprop, part.param, part.grads[t - 1], part.state, LRS[t - 1], t
            )
        variant.step(
            reference, expected.param, expected.grads[0], expected.state, LRS[t - 1], t
        )
        assert_matches(joined(parts), expected, dtype, f"step {t}, {context}", sizes)


def assert_matches(
    got: Problem, want: Problem, dtype, context: str, sizes: list[int] | None = None
) -> None:
    """Compare param and state elementwise with the tolerance table.

    NaN matches NaN and an infinity matches itself. ``sizes`` names the part of a
    joined problem an offending element belongs to.
    """
    pairs = [("param", got.param, want.param, TOLERANCE[dtype]["param"])]
    pairs += [
        (k, got.state[k], want.state[k], TOLERANCE[dtype]["state"]) for k in want.state
    ]
    for name, actual, expected, tolerance in pairs:
        # Half precision widens exactly to float32; the others are compared as they
        # are, where the difference of two close values is exact.
        a = actual.astype(F32) if actual.itemsize < 4 else actual
        e = expected.astype(F32) if expected.itemsize < 4 else expected
        with np.errstate(invalid="ignore", over="ignore"):
            bad = ~(np.abs(a - e) <= tolerance["atol"] + tolerance["rtol"] * np.abs(e))
        index = np.flatnonzero(bad)
        a, e = a.reshape(-1), e.reshape(-1)
        index = index[
            ~((a[index] == e[index]) | (np.isnan(a[index]) & np.isnan(e[index])))
        ]
        if index.size == 0:
            continue
        first = int(index[0])
        where = ""
        if sizes is not None:
            parts = np.searchsorted(np.cumsum(sizes), index, "right")
            where = ", in sizes " + ", ".join(str(sizes[k]) for k in np.unique(parts))
        pytest.fail(
            f"{name} ({context}): {index.size} of {a.size} elements beyond "
            f"{tolerance}{where}; first at {first}: kernel {a[first]!r}, "
            f"reference {e[first]!r}",
            pytrace=False,
        )


def use(simd: str, threads: int) -> None:
    fastrmsprop.set_simd_level(simd)
    fastrmsprop.set_num_threads(threads)


def assert_bitwise_equal(a: np.ndarray, b: np.ndarray, what: str) -> None:
    assert a.tobytes() == b.tobytes(), f"{what} differs bitwise"


@pytest.mark.usefixtures("restore_backend_settings")
@pytest.mark.parametrize("simd", SIMD_LEVELS)
@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_small_sizes_match_reference(variant, dtype_name, simd):
    dtype = DTYPES[dtype_name]
    problem = make_problem(variant, dtype, sum(SMALL_SIZES), steps=4)
    offsets = np.cumsum((0,) + SMALL_SIZES)
    for threads in THREADS:
        use(simd, threads)
        parts = [problem.copy(slice(a, b)) for a, b in zip(offsets, offsets[1:])]
        check_steps(variant, parts, dtype, f"{threads} threads, {simd}")


@pytest.mark.usefixtures("restore_backend_settings")
@pytest.mark.parametrize("simd", SIMD_LEVELS)
@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize("variant", HUGE_VARIANTS, ids=lambda v: v.name)
def test_huge_size_matches_reference(variant, dtype_name, simd):
    # Two threads only: test_threads_are_bitwise_deterministic shows one thread gives
    # the same bits, and the reference on a million elements is the slow part.
    use(simd, 2)
    dtype = DTYPES[dtype_name]
    problem = make_problem(variant, dtype, HUGE_SIZE, steps=3)
    check_steps(variant, [problem], dtype, f"size {HUGE_SIZE}, 2 threads, {simd}")


@pytest.mark.usefixtures("restore_backend_settings")
@pytest.mark.parametrize("simd", SIMD_LEVELS)
@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize("variant", HUGE_VARIANTS, ids=lambda v: v.name)
def test_threads_are_bitwise_deterministic(variant, dtype_name, simd):
    fastrmsprop.set_num_threads(2)
    if fastrmsprop.get_num_threads() != 2:
        pytest.skip("this build runs one thread only (no OpenMP)")
    problem = make_problem(variant, DTYPES[dtype_name], HUGE_SIZE, steps=3)
    results = []
    for threads in THREADS:
        use(simd, threads)
        results.append(run(fastrmsprop, variant, problem.copy()))
    one, two = results
    assert_bitwise_equal(one.param, two.param, "param")
    for name in one.state:
        assert_bitwise_equal(one.state[name], two.state[name], name)


MANY_SIZES = (70_000, 17, 0, 33, 1, 1000, 64, 100_003)  # the empty one in the middle


@pytest.mark.usefixtures("restore_backend_settings")
@pytest.mark.parametrize("threads", THREADS, ids=["1_thread", "2_threads"])
@pytest.mark.parametrize("simd", SIMD_LEVELS)
@pytest.mark.parametrize("variant", HUGE_VARIANTS, ids=lambda v: v.name)
def test_many_tensors_in_one_call_equal_one_call_each(variant, simd, threads):
    # The same level computes each element with the same operations whichever call
    # it comes in (chunks inside a tensor start at multiples of the vector width), so
    # the results are equal bit for bit.
    use(simd, threads)
    problems = [make_problem(variant, F32, n, 3, seed=n) for n in MANY_SIZES]
    first_steps = [3, 1, 2, 5, 4, 1, 2, 3]  # per-param step numbers (Adagrad, Adam)

    params = [p.param.copy() for p in problems]
    states = {k: [p.state[k].copy() for p in problems] for k in variant.state_names}
    for t in range(3):
        grads = [p.grads[t] for p in problems]
        step_numbers = [first + t for first in first_steps]
        variant.step(fastrmsprop, params, grads, states, LRS[t], step_numbers)

    for i, (problem, first) in enumerate(zip(problems, first_steps)):
        single = problem.copy()
        for t, grad in enumerate(single.grads):
            variant.step(
                fastrmsprop, single.param, grad, single.state, LRS[t], first + t
            )
        assert_bitwise_equal(params[i], single.param, f"params[{i}]")
        for name in variant.state_names:
            assert_bitwise_equal(states[name][i], single.state[name], f"{name}[{i}]")


SHAPES = [(4, 3), (3, 4), (1, 1025), (1025, 1), (2, 3, 5)]


@pytest.mark.usefixtures("restore_backend_settings")
@pytest.mark.parametrize("simd", SIMD_LEVELS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("variant", HUGE_VARIANTS, ids=lambda v: v.name)
def test_shapes_update_every_element(variant, shape, simd):
    use(simd, 1)
    size = int(np.prod(shape))
    problem = make_problem(variant, F32, size, steps=3)
    shaped = problem.copy()
    shaped.param = shaped.param.reshape(shape)
    shaped.grads = [g.reshape(shape) for g in shaped.grads]
    shaped.state = {k: v.reshape(shape) for k, v in shaped.state.items()}
    check_steps(variant, [shaped], F32, f"shape {shape}, {simd}")
    assert shaped.param.shape == shape
    assert (shaped.param.reshape(-1) != problem.param).all()


@pytest.mark.usefixtures("restore_backend_settings")
@pytest.mark.parametrize("simd", SIMD_LEVELS)
@pytest.mark.parametrize("size", [1, 7, 8, 15, 16, 17, 1023, 1024, 1025])
def test_float16_adam_rounds_to_nearest(size, simd):
    # θ = 1 - 1e-3·0.5/(0.5 + 1e-8) ≈ 0.999 lies nearest the float16 0.9990234375.
    use(simd, 1)
    param = np.ones(size, F16)
    fastrmsprop.adam_step(
        param,
        np.full(size, 0.5, F16),
        np.zeros(size, F32),
        np.zeros(size, F32),
        lr=1e-3,
        steps=1,
    )
    assert (param == np.float16(0.9990234375)).all()


@pytest.mark.usefixtures("restore_backend_settings")
@pytest.mark.parametrize("simd", SIMD_LEVELS)
@pytest.mark.parametrize("dtype_name", ["float16", "bfloat16"])
@pytest.mark.parametrize("optimizer", ["rmsprop", "adagrad", "adam", "adamw"])
def test_half_precision_zero_grad_leaves_params(optimizer, dtype_name, simd):
    use(simd, 1)
    dtype = DTYPES[dtype_name]
    variant = Variant(optimizer, {}, optimizer)
    problem = make_problem(variant, dtype, 3, steps=3)
    problem.param[...] = np.array([1.0, -2.0, 0.5], dtype)
    problem.grads = [np.zeros(3, dtype) for _ in range(3)]
    lr = 1e-2 if optimizer in ("rmsprop", "adagrad") else 1e-3
    for t, grad in enumerate(problem.grads, start=1):
        variant.step(fastrmsprop, problem.param, grad, problem.state, lr, t)
    np.testing.assert_array_equal(problem.param.astype(F32), [1.0, -2.0, 0.5])


@pytest.mark.usefixtures("restore_backend_settings")
@pytest.mark.parametrize("simd", SIMD_LEVELS)
@pytest.mark.parametrize("variant", HUGE_VARIANTS, ids=lambda v: v.name)
def test_nonfinite_grads_propagate_like_the_reference(variant, simd):
    use(simd, 1)
    problem = make_problem(variant, F32, 40, steps=1)
    problem.grads[0][[3, 17, 33]] = [np.nan, np.inf, -np.inf]
    got = run(fastrmsprop, variant, problem.copy())
    want = run(reference, variant, problem.copy())
    assert_matches(got, want, F32, f"non-finite grads, {simd}")


@pytest.mark.usefixtures("restore_backend_settings")
@pytest.mark.parametrize("simd", SIMD_LEVELS)
@pytest.mark.parametrize("variant", HUGE_VARIANTS, ids=lambda v: v.name)
def test_skip_nonfinite_writes_nothing(variant, simd):
    use(simd, 2)
    problems = [make_problem(variant, F32, n, 1, seed=n) for n in (100_000, 9)]
    problems[1].grads[0][4] = np.nan
    params = [p.param.copy() for p in problems]
    states = {k: [p.state[k].copy() for p in problems] for k in variant.state_names}
    grads = [p.grads[0] for p in problems]
    applied = _step_with_skip(variant, params, grads, states)
    assert applied is False
    for i, p in enumerate(problems):
        assert_bitwise_equal(params[i], p.param, f"params[{i}]")
        for name in variant.state_names:
            assert_bitwise_equal(states[name][i], p.state[name], f"{name}[{i}]")
    grads[1] = np.zeros(9, F32)
    assert _step_with_skip(variant, params, grads, states) is True
    assert not np.array_equal(params[0], problems[0].param)


def _step_with_skip(variant: Variant, params, grads, states) -> Any:
    skipping = Variant(
        variant.optimizer, {**variant.hyper, "skip_nonfinite": True}, variant.name
    )
    return skipping.step(fastrmsprop, params, grads, states, 1e-2, 1)


@pytest.mark.usefixtures("restore_backend_settings")
@pytest.mark.parametrize("simd", SIMD_LEVELS)
def test_non_contiguous_grad_is_read(simd):
    use(simd, 1)
    variant = HUGE_VARIANTS[1]
    problem = make_problem(variant, F32, 50, steps=1)
    storage = np.zeros((50, 3), F32)
    storage[:, 1] = problem.grads[0]
    strided = problem.copy()
    strided.grads = [storage[:, 1]]
    got = run(fastrmsprop, variant, strided)
    want = run(fastrmsprop, variant, problem.copy())
    assert_bitwise_equal(got.param, want.param, "param")


@pytest.mark.usefixtures("restore_backend_settings")
@pytest.mark.parametrize("simd", SIMD_LEVELS)
@pytest.mark.parametrize("size", [1, 8, 17])
def test_centered_variance_rounding_below_zero_is_clamped(size, simd):
    # In float32, v = 0.99·0.01 + 0.01·0.1² and m̄ = 0.1 give v - m̄² < 0; without
    # the clamp the square root is NaN. Every lane and the tail see the same case.
    use(simd, 1)
    param = np.ones(size, F32)
    reference_param = param.copy()
    for api, p in [(fastrmsprop, param), (reference, reference_param)]:
        api.rmsprop_step(
            p,
            np.full(size, 0.1, F32),
            np.full(size, 0.01, F32),
            lr=1e-2,
            beta=0.99,
            eps=1e-2,
            centered=True,
            grad_avgs=np.full(size, 0.1, F32),
        )
    assert np.isfinite(param).all()
    np.testing.assert_allclose(param, reference_param, **FLOAT32)
    np.testing.assert_allclose(param, 0.9, rtol=1e-6)
