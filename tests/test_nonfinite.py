"""Non-finite gradients: skipped steps write nothing; applied ones follow the formula.

With ``skip_nonfinite=True`` a step whose grads hold a NaN or ±inf anywhere (first,
middle or last tensor; first, last or a vector-boundary element; in a tensor large
enough to be split between threads) must leave every param and state array bit for
bit as it was, return False and, for the classes, count a skipped step without
advancing the step counters. Without it, NaN in gives NaN out where the reference
says so, and nowhere else.
"""

from __future__ import annotations

import math
import warnings

import ml_dtypes
import numpy as np
import pytest

import fastrmsprop
from fastrmsprop import reference

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = {
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "float16": np.dtype(np.float16),
    "bfloat16": BF16,
}
STATE_DTYPE = {
    np.dtype(np.float32): np.float32,
    np.dtype(np.float64): np.float64,
    np.dtype(np.float16): np.float32,
    BF16: np.float32,
}
LEVELS = fastrmsprop.available_simd_levels()
# Large enough that two threads each take a share of the last tensor.
SPLIT = (
    2 * getattr(getattr(fastrmsprop, "_core", None), "min_elements_per_thread", 32768)
    + 17
)
SIZES = [1, 7, 8, 9, 17, 33, 64, 65, 1000, SPLIT]
BAD_VALUES = [math.nan, math.inf, -math.inf]
KINDS = ["rmsprop", "adagrad", "adam", "adamw"]
# Options that switch on every state array of each kind.
OPTIONS = {
    "rmsprop": {
        "lr": 1e-2,
        "beta": 0.9,
        "momentum": 0.9,
        "centered": True,
        "weight_decay": 0.1,
    },
    "adagrad": {"lr": 1e-2, "steps": 3, "lr_decay": 0.1, "weight_decay": 0.1},
    "adam": {
        "lr": 1e-3,
        "steps": 3,
        "betas": (0.9, 0.999),
        "weight_decay": 0.1,
        "amsgrad": True,
    },
    "adamw": {"lr": 1e-3, "steps": 3, "amsgrad": True},
}
STATES = {
    "rmsprop": ["square_avgs", "grad_avgs", "momentum_buffers"],
    "adagrad": ["sums"],
    "adam": ["exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"],
    "adamw": ["exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"],
}
POSITIONAL = {"rmsprop": 1, "adagrad": 1, "adam": 2, "adamw": 2}


# Tests here switch the SIMD level and thread count; the fixture puts them back.
pytestmark = pytest.mark.usefixtures("restore_backend_settings")


def positions(size: int) -> list[int]:
    """Elements at both ends, mid-tensor and on both sides of vector boundaries."""
    candidates = {0, 1, 7, 8, 15, 16, 31, 32, size // 2, size - 2, size - 1}
    return sorted(p for p in candidates if 0 <= p < size)


def make_arrays(kind: str, dtype: np.dtype, rng: np.random.Generator):
    params = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    grads = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    states = {}
    for name in STATES[kind]:
        nonneg = name in ("square_avgs", "sums", "exp_avg_sqs", "max_exp_avg_sqs")
        states[name] = [
            (np.abs(rng.standard_normal(n)) + (1.0 if nonneg else 0.0)).astype(
                STATE_DTYPE[dtype]
            )
            if nonneg
            else (0.1 * rng.standard_normal(n)).astype(STATE_DTYPE[dtype])
            for n in SIZES
        ]
    return params, grads, states


def call(module, kind: str, params, grads, states, **extra):
    names = STATES[kind]
    positional = [states[n] for n in names[: POSITIONAL[kind]]]
    keywords = {n: states[n] for n in names[POSITIONAL[kind] :]}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(module, f"{kind}_step")(
            params, grads, *positional, **keywords, **OPTIONS[kind], **extra
        )


def all_bytes(params, states) -> list[bytes]:
    return [a.tobytes() for a in params] + [
        a.tobytes() for arrays in states.values() for a in arrays
    ]


def copies(params, grads, states):
    return (
        [p.copy() for p in params],
        [g.copy() for g in grads],
        {k: [a.copy() for a in v] for k, v in states.items()},
    )


def assert_matches(actual, expected, what: str) -> None:
    """Same NaN and infinity positions; finite values within the kernel tolerance."""
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(e), err_msg=f"{what}: NaN")
    np.testing.assert_array_equal(
        np.isinf(a) * np.sign(a), np.isinf(e) * np.sign(e), err_msg=f"{what}: inf"
    )
    finite = np.isfinite(e)
    rtol = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}.get(
        actual.dtype, 2.0**-7 if actual.dtype == BF16 else 2.0**-10
    )
    # A cancellation (b = μ·b + u) loses relative accuracy in any evaluation
    # order, so the absolute part of the tolerance follows the array's scale.
    scale = float(np.max(np.abs(e[finite]), initial=0.0))
    np.testing.assert_allclose(
        a[finite], e[finite], rtol=rtol, atol=rtol * scale, err_msg=what
    )


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("kind", KINDS)
def test_skipped_step_writes_nothing(kind, dtype, level, threads):
    fastrmsprop.set_simd_level(level)
    fastrmsprop.set_num_threads(threads)
    rng = np.random.default_rng(1)
    params, grads, states = make_arrays(kind, DTYPES[dtype], rng)
    before = all_bytes(params, states)
    grad_bytes = [g.tobytes() for g in grads]
    tried = 0
    for tensor in (0, len(SIZES) // 2, len(SIZES) - 2, len(SIZES) - 1):
        for k, where in enumerate(positions(SIZES[tensor])):
            bad = BAD_VALUES[(k + tensor) % 3]
            saved = grads[tensor][where].copy()
            grads[tensor][where] = bad
            applied = call(
                fastrmsprop, kind, params, grads, states, skip_nonfinite=True
            )
            assert applied is False, (tensor, where, bad)
            assert all_bytes(params, states) == before, (
                f"tensor {tensor} element {where} = {bad}: something was written"
            )
            grads[tensor][where] = saved
            tried += 1
    assert [g.tobytes() for g in grads] == grad_bytes
    assert tried >= 20

    expected = copies(params, grads, states)
    assert call(reference, kind, *expected, skip_nonfinite=True) is True
    assert call(fastrmsprop, kind, params, grads, states, skip_nonfinite=True) is True
    for i, (a, e) in enumerate(zip(params, expected[0])):
        assert_matches(a, e, f"params[{i}]")
    for name in states:
        for i, (a, e) in enumerate(zip(states[name], expected[2][name])):
            assert_matches(a, e, f"{name}[{i}]")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("kind", KINDS)
def test_without_skip_nan_goes_where_the_formula_sends_it(kind, dtype, level, threads):
    fastrmsprop.set_simd_level(level)
    fastrmsprop.set_num_threads(threads)
    rng = np.random.default_rng(2)
    params, grads, states = make_arrays(kind, DTYPES[dtype], rng)
    last = len(SIZES) - 1
    for tensor, where, bad in [
        (0, 0, math.nan),
        (4, 8, math.inf),
        (last, SIZES[last] - 1, -math.inf),
        (last, SIZES[last] // 2, math.nan),
        (8, 31, math.nan),
    ]:
        grads[tensor][where] = bad
    params[3][7] = math.nan  # a NaN param, not grad, spreads only to its element
    expected = copies(params, grads, states)
    assert call(reference, kind, *expected) is None
    assert call(fastrmsprop, kind, params, grads, states) is None
    for i, (a, e) in enumerate(zip(params, expected[0])):
        assert_matches(a, e, f"params[{i}]")
    for name in states:
        for i, (a, e) in enumerate(zip(states[name], expected[2][name])):
            assert_matches(a, e, f"{name}[{i}]")
    assert np.isnan(params[0][0].astype(np.float64))
    assert np.isfinite(params[0][1:].astype(np.float64)).all()
    assert np.isnan(params[last][SIZES[last] - 1].astype(np.float64))


CLASSES = {
    "RMSProp": {"lr": 1e-2, "momentum": 0.9, "centered": True, "weight_decay": 0.1},
    "Adagrad": {"lr": 1e-2, "lr_decay": 0.1, "weight_decay": 0.1},
    "Adam": {"lr": 1e-3, "amsgrad": True, "weight_decay": 0.1},
    "AdamW": {"lr": 1e-3, "amsgrad": True},
}


def class_state(opt) -> list[bytes]:
    return [
        v.tobytes() if isinstance(v, np.ndarray) else repr(v)
        for entry in opt.state
        for _, v in sorted(entry.items())
    ]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("cls", sorted(CLASSES))
def test_classes_skip_and_continue_as_if_never_seen(cls, dtype, level, threads):
    """clean, bad, bad, clean equals clean, clean bit for bit."""
    fastrmsprop.set_simd_level(level)
    fastrmsprop.set_num_threads(threads)
    rng = np.random.default_rng(3)
    dt = DTYPES[dtype]
    start = [rng.standard_normal(n).astype(dt) for n in SIZES]
    clean = [[rng.standard_normal(n).astype(dt) for n in SIZES] for _ in range(2)]
    bad = [g.copy() for g in clean[1]]
    bad[-1][SIZES[-1] - 1] = math.nan
    worse = [g.copy() for g in clean[1]]
    worse[0][0] = -math.inf

    skipping = [p.copy() for p in start]
    opt = getattr(fastrmsprop, cls)(skipping, skip_nonfinite=True, **CLASSES[cls])
    plain = [p.copy() for p in start]
    ref = getattr(fastrmsprop, cls)(plain, skip_nonfinite=True, **CLASSES[cls])

    assert opt.step(clean[0]) is True
    assert ref.step(clean[0]) is True
    for n_skipped, grads in enumerate([bad, worse], start=1):
        params_before = [p.tobytes() for p in skipping]
        state_before = class_state(opt)
        assert opt.step(grads) is False
        assert [p.tobytes() for p in skipping] == params_before
        assert class_state(opt) == state_before
        assert opt.skipped_steps == n_skipped
        assert opt.steps_taken == 1
    assert opt.step(clean[1]) is True
    assert ref.step(clean[1]) is True
    assert opt.steps_taken == ref.steps_taken == 2
    assert ref.skipped_steps == 0
    assert [p.tobytes() for p in skipping] == [p.tobytes() for p in plain]
    assert class_state(opt) == class_state(ref)


@pytest.mark.parametrize("kind", KINDS)
def test_nonfinite_param_with_finite_grads_is_applied(kind):
    """Only grads decide a skip: a NaN param is the caller's and is updated as usual."""
    rng = np.random.default_rng(4)
    params, grads, states = make_arrays(kind, DTYPES["float32"], rng)
    params[1][3] = math.nan
    expected = copies(params, grads, states)
    assert call(reference, kind, *expected, skip_nonfinite=True) is True
    assert call(fastrmsprop, kind, params, grads, states, skip_nonfinite=True) is True
    for i, (a, e) in enumerate(zip(params, expected[0])):
        assert_matches(a, e, f"params[{i}]")
