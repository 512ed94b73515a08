"""State that survives: a saved and reloaded optimizer continues bit for bit.

For every class and several option combinations, ``state_dict()`` taken after any
number of steps (none included) and loaded into a fresh optimizer, directly or
through ``np.savez``/``np.load`` or pickle, continues exactly like an uninterrupted
run. A state dict that does not fit (shapes, dtypes, names, counts, values) raises
before anything changes.
"""

from __future__ import annotations

import copy
import io
import math
import pickle

import ml_dtypes
import numpy as np
import pytest

import fastrmsprop
from fastrmsprop import schedules

SHAPES = [(33,), (4, 5), (17,), (9,), ()]
DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16, np.float32]
STEPS = 5

COMBOS = {
    "RMSProp": {
        "defaults": {},
        "momentum": {"momentum": 0.9, "weight_decay": 1e-2},
        "centered-nesterov": {"centered": True, "momentum": 0.5, "nesterov": True},
        "tf1": {"preset": "tf1", "lr": 1e-2, "momentum": 0.9},
        "keras": {"preset": "keras", "weight_decay": 1e-2, "centered": True},
        "flags": {
            "eps_in_sqrt": True,
            "lr_in_momentum": True,
            "momentum": 0.3,
            "maximize": True,
            "decoupled_weight_decay": True,
            "weight_decay": 0.1,
        },
    },
    "Adagrad": {
        "defaults": {},
        "decay": {
            "lr_decay": 0.1,
            "weight_decay": 0.1,
            "initial_accumulator_value": 0.1,
        },
        "flags": {"eps_in_sqrt": True, "maximize": True},
    },
    "Adam": {
        "defaults": {},
        "amsgrad": {"amsgrad": True, "weight_decay": 0.1},
        "flags": {"maximize": True, "betas": (0.5, 0.9), "eps": 1e-6},
    },
    "AdamW": {
        "defaults": {},
        "amsgrad": {"amsgrad": True, "weight_decay": 0.1},
    },
}
CASES = [(cls, name) for cls in COMBOS for name in COMBOS[cls]]


@pytest.fixture(autouse=True)
def _fixed_backend(restore_backend_settings):  # noqa: ARG001 - restores on exit
    # Bitwise comparisons need one instruction set and thread count throughout.
    fastrmsprop.set_simd_level(fastrmsprop.available_simd_levels()[-1])
    fastrmsprop.set_num_threads(2)
    yield


def initial_params(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(d) for s, d in zip(SHAPES, DTYPES)]


def grad_sequence(count: int, seed: int = 1) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        [rng.standard_normal(s).astype(d) for s, d in zip(SHAPES, DTYPES)]
        for _ in range(count)
    ]


def array_bytes(sd: dict) -> dict:
    """A state dict with arrays as bytes (plus dtype and shape), numbers as is."""
    out = {}
    for key, value in sd.items():
        if isinstance(value, np.ndarray) and value.ndim:
            out[key] = (value.dtype.str, value.shape, value.tobytes())
        elif isinstance(value, np.ndarray):
            out[key] = value.item()
        else:
            out[key] = value
    return out


def round_trip(sd: dict, route: str) -> dict:
    if route == "direct":
        return sd
    if route == "pickle":
        return pickle.loads(pickle.dumps(sd))
    buffer = io.BytesIO()
    np.savez(buffer, **sd)
    buffer.seek(0)
    with np.load(buffer) as loaded:  # no allow_pickle: the dict must not need it
        return {k: loaded[k] for k in loaded.files}


def make(cls: str, params, options: dict):
    return getattr(fastrmsprop, cls)(params, **options)


def run(cls, options, params, grads_list):
    opt = make(cls, params, options)
    for grads in grads_list:
        assert opt.step(grads) is True
    return opt


@pytest.mark.parametrize("route", ["direct", "npz", "pickle"])
@pytest.mark.parametrize("saved_at", [0, 1, 3, STEPS])
@pytest.mark.parametrize("cls,combo", CASES)
def test_reloaded_optimizer_continues_bit_for_bit(cls, combo, saved_at, route):
    options = COMBOS[cls][combo]
    grads = grad_sequence(STEPS)
    whole_params = initial_params()
    whole = run(cls, options, whole_params, grads)

    first_params = initial_params()
    first = run(cls, options, first_params, grads[:saved_at])
    saved = round_trip(first.state_dict(), route)
    resumed_params = [p.copy() for p in first_params]
    resumed = make(cls, resumed_params, options)
    resumed.load_state_dict(saved)
    for g in grads[saved_at:]:
        assert resumed.step(g) is True

    for i, (a, b) in enumerate(zip(resumed_params, whole_params)):
        assert a.tobytes() == b.tobytes(), f"params[{i}]"
    assert array_bytes(resumed.state_dict()) == array_bytes(whole.state_dict())
    assert resumed.steps_taken == whole.steps_taken == STEPS


@pytest.mark.parametrize("cls,combo", CASES)
def test_loading_restores_hyperparameters_and_counters(cls, combo):
    """A fresh optimizer built with another lr takes the saved one from the dict."""
    options = COMBOS[cls][combo]
    grads = grad_sequence(4)
    whole_params = initial_params()
    run(cls, options, whole_params, grads)

    params = initial_params()
    first = run(cls, options, params, grads[:2])
    other = dict(options, lr=0.123)
    resumed = make(cls, params, other)
    resumed.load_state_dict(copy.deepcopy(first.state_dict()))
    assert resumed.steps_taken == 2
    for g in grads[2:]:
        resumed.step(g)
    assert [p.tobytes() for p in params] == [p.tobytes() for p in whole_params]


@pytest.mark.parametrize("cls", sorted(COMBOS))
def test_schedule_continues_from_the_saved_step(cls):
    """With a schedule the dict holds the step count; the schedule resumes there."""
    options = {
        "lr": schedules.warmup(
            schedules.cosine_decay(0.05, total_steps=6), warmup_steps=2
        )
    }
    grads = grad_sequence(STEPS)
    whole_params = initial_params()
    run(cls, options, whole_params, grads)

    params = initial_params()
    first = run(cls, options, params, grads[:3])
    saved = round_trip(first.state_dict(), "npz")
    resumed = make(cls, params, options)
    resumed.load_state_dict(saved)
    for g in grads[3:]:
        resumed.step(g)
    assert [p.tobytes() for p in params] == [p.tobytes() for p in whole_params]


@pytest.mark.parametrize("cls", sorted(COMBOS))
def test_loaded_state_is_not_shared(cls):
    """Loading copies: the source, the dict and the target never alias each other."""
    options = COMBOS[cls]["defaults"]
    grads = grad_sequence(3)
    source = run(cls, options, initial_params(), grads[:1])
    sd = source.state_dict()
    target_params = initial_params()
    target = make(cls, target_params, options)
    target.load_state_dict(sd)
    loaded = array_bytes(target.state_dict())

    source.step(grads[1])
    for value in sd.values():
        if isinstance(value, np.ndarray) and value.size:
            value[...] = 7
    assert array_bytes(target.state_dict()) == loaded
    before = array_bytes(source.state_dict())
    target.step(grads[2])
    assert array_bytes(source.state_dict()) == before


def snapshot(opt, params) -> tuple:
    state = [
        (i, k, v.tobytes() if isinstance(v, np.ndarray) else v)
        for i, entry in enumerate(opt.state)
        for k, v in sorted(entry.items())
    ]
    hyper = repr(sorted(getattr(opt, "hyperparameters", {}).items()))
    return (
        [p.tobytes() for p in params],
        state,
        opt.steps_taken,
        opt.skipped_steps,
        hyper,
        repr(opt.lr),
    )


def reshaped_last(shape):
    return shape + (2,) if shape else (2,)


def bad_dicts(cls: str):
    """(name, state dict) pairs that must not load into ``target()`` below."""
    options = COMBOS[cls]["defaults"]
    grads = grad_sequence(1)
    good = run(cls, options, initial_params(), grads).state_dict()
    last = len(SHAPES) - 1
    state_keys = sorted(
        k
        for k in good
        if k.startswith(f"state.{last}.") and isinstance(good[k], np.ndarray)
    )

    def changed(**entries):
        sd = copy.deepcopy(good)
        for key, value in entries.items():
            if value is None:
                sd.pop(key)
            else:
                sd[key] = value
        return sd

    key = state_keys[0]
    yield "shape", changed(**{key: np.zeros(reshaped_last(SHAPES[last]), np.float32)})
    yield "dtype", changed(**{key: good[key].astype(np.float64)})
    yield "half-state", changed(**{key: good[key].astype(np.float16)})
    yield "missing-key", changed(**{key: None})
    yield (
        "extra-key",
        changed(**{f"state.{last + 1}.{key.split('.')[-1]}": good[key].copy()}),
    )
    yield "unknown-name", changed(**{f"state.{last}.velocity": good[key].copy()})
    yield "list-value", changed(**{key: good[key].tolist()})
    yield "negative-steps", changed(steps_taken=-1)
    yield "fractional-steps", changed(steps_taken=1.5)
    yield "text-steps", changed(steps_taken="one")
    yield "nan-lr", changed(**{"hyperparameters.lr": math.nan})
    yield "wrong-optimizer", changed(optimizer="SGD")
    # Fewer params: the dict of a shorter param list.
    short = run(cls, options, initial_params()[:-1], [g[:-1] for g in grads])
    yield "fewer-params", short.state_dict()
    # Another param dtype in the last tensor.
    params = initial_params()
    params[last] = params[last].astype(np.float64)
    yield (
        "param-dtype",
        run(
            cls, options, params, [g[:-1] + [g[-1].astype(np.float64)] for g in grads]
        ).state_dict(),
    )
    other = {
        "RMSProp": "Adagrad",
        "Adagrad": "Adam",
        "Adam": "RMSProp",
        "AdamW": "Adam",
    }[cls]
    yield "other-class", run(other, {}, initial_params(), grads).state_dict()
    if cls == "RMSProp":
        yield "momentum-without-buffer", changed(**{"hyperparameters.momentum": 0.9})
        yield "centered-without-avg", changed(**{"hyperparameters.centered": True})
        yield "beta-out-of-range", changed(**{"hyperparameters.beta": 1.5})
    if cls in ("Adam", "AdamW"):
        yield "amsgrad-without-max", changed(**{"hyperparameters.amsgrad": True})
        yield "beta1-out-of-range", changed(**{"hyperparameters.beta1": 1.0})


def _bad_cases():
    cases = []
    for cls in sorted(COMBOS):
        for name, sd in bad_dicts(cls):
            cases.append(pytest.param(cls, sd, id=f"{cls}-{name}"))
    return cases


@pytest.mark.parametrize("cls,sd", _bad_cases())
def test_bad_state_dict_raises_and_changes_nothing(cls, sd):
    options = COMBOS[cls]["defaults"]
    grads = grad_sequence(3, seed=7)
    params = initial_params(seed=5)
    target = run(cls, options, params, grads[:2])
    before = snapshot(target, params)

    with pytest.raises((TypeError, ValueError, KeyError)) as error:
        target.load_state_dict(sd)
    assert str(error.value).split(":")[0].strip(), "message names nothing"
    assert snapshot(target, params) == before
    # The optimizer still works, exactly like an untouched twin.
    twin_params = initial_params(seed=5)
    twin = run(cls, options, twin_params, grads)
    target.step(grads[2])
    assert [p.tobytes() for p in params] == [p.tobytes() for p in twin_params]
    assert array_bytes(target.state_dict()) == array_bytes(twin.state_dict())
