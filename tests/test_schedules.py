"""Learning-rate schedules: values by hand, argument checks, repr and pickling."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from fastrmsprop import schedules
from fastrmsprop.schedules import (
    as_schedule,
    check_lr,
    constant,
    cosine_decay,
    exponential_decay,
    step_decay,
    warmup,
)


def values(schedule, steps):
    return [schedule(t) for t in steps]


def test_constant():
    assert values(constant(0.1), [0, 1, 10**9]) == [0.1, 0.1, 0.1]


def test_exponential_decay():
    sched = exponential_decay(0.1, decay_rate=0.5, decay_steps=10)
    expected = [0.1, 0.1 * 0.5**0.5, 0.05, 0.1 * 0.5**2.5]
    assert values(sched, [0, 5, 10, 25]) == pytest.approx(expected, rel=1e-15)


def test_exponential_decay_staircase():
    sched = exponential_decay(0.1, decay_rate=0.5, decay_steps=10, staircase=True)
    expected = [0.1, 0.1, 0.05, 0.05, 0.025]
    assert values(sched, [0, 9, 10, 19, 20]) == pytest.approx(expected, rel=1e-15)


def test_step_decay():
    sched = step_decay(1.0, step_size=3, gamma=0.5)
    assert values(sched, [0, 2, 3, 5, 6, 9]) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.125]
    assert step_decay(1.0, 2)(2) == pytest.approx(0.1)  # gamma defaults to 0.1


def test_cosine_decay():
    sched = cosine_decay(1.0, total_steps=4, final_lr=0.2)
    # 0.2 + 0.8·(1 + cos(π·t/4))/2 at t = 0..4, then held at 0.2.
    expected = [
        1.0,
        0.2 + 0.4 * (1 + math.sqrt(0.5)),
        0.6,
        0.2 + 0.4 * (1 - math.sqrt(0.5)),
        0.2,
        0.2,
        0.2,
    ]
    assert values(sched, range(7)) == pytest.approx(expected, rel=1e-14)
    assert cosine_decay(1.0, total_steps=2)(2) == pytest.approx(0.0, abs=1e-16)


def test_warmup_in_front_of_a_schedule():
    sched = warmup(
        step_decay(1.0, step_size=2, gamma=0.5), warmup_steps=4, start_lr=0.2
    )
    # A ramp 0.2 → 1.0 over 4 steps, then step_decay restarted from 0.
    expected = [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.5, 0.5, 0.25]
    assert values(sched, range(9)) == pytest.approx(expected, rel=1e-15)


def test_warmup_of_a_number_and_zero_steps():
    assert values(warmup(0.1, warmup_steps=2), range(4)) == [0.0, 0.05, 0.1, 0.1]
    assert values(warmup(0.1, warmup_steps=0, start_lr=1.0), [0, 5]) == [0.1, 0.1]


def test_warmup_accepts_any_callable():
    sched = warmup(lambda t: 1.0 / (t + 1), warmup_steps=2)
    assert values(sched, range(5)) == [0.0, 0.5, 1.0, 0.5, 1 / 3]


def test_module_example():
    sched = warmup(cosine_decay(0.1, total_steps=90), warmup_steps=10)
    got = [round(sched(t), 4) for t in (0, 5, 10, 55, 100, 1000)]
    assert got == [0.0, 0.05, 0.1, 0.05, 0.0, 0.0]


SCHEDULES = [
    constant(0.5),
    exponential_decay(0.1, 0.9, 100, staircase=True),
    step_decay(0.1, 30, gamma=0.2),
    cosine_decay(0.1, 1000, final_lr=1e-5),
    warmup(cosine_decay(0.1, 1000), 50, start_lr=1e-4),
]


@pytest.mark.parametrize("sched", SCHEDULES, ids=repr)
def test_repr_evaluates_to_an_equal_schedule(sched):
    rebuilt = eval(repr(sched), vars(schedules))
    assert rebuilt == sched
    assert values(rebuilt, [0, 7, 500]) == values(sched, [0, 7, 500])


@pytest.mark.parametrize("sched", SCHEDULES, ids=repr)
def test_pickle_round_trip(sched):
    assert pickle.loads(pickle.dumps(sched)) == sched


def test_repr_reads_like_the_call():
    assert repr(step_decay(0.1, 30)) == "step_decay(0.1, step_size=30, gamma=0.1)"
    assert repr(warmup(0.1, 5)) == "warmup(constant(0.1), warmup_steps=5, start_lr=0.0)"


def test_numpy_numbers_are_accepted():
    sched = step_decay(np.float32(0.5), np.int64(2), gamma=np.float64(0.5))
    assert sched(np.int64(2)) == 0.25
    assert type(sched(0)) is float


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: constant(-0.1), ValueError, "lr:"),
        (lambda: constant(float("nan")), ValueError, "lr:"),
        (lambda: constant("0.1"), TypeError, "lr:"),
        (lambda: exponential_decay(-1.0, 0.5, 10), ValueError, "lr0:"),
        (lambda: exponential_decay(0.1, 0.0, 10), ValueError, "decay_rate:"),
        (lambda: exponential_decay(0.1, float("inf"), 10), ValueError, "decay_rate:"),
        (lambda: exponential_decay(0.1, 0.5, 0), ValueError, "decay_steps:"),
        (lambda: step_decay(0.1, 0), ValueError, "step_size:"),
        (lambda: step_decay(0.1, 2.5), TypeError, "step_size:"),
        (lambda: step_decay(0.1, 2, gamma=-0.5), ValueError, "gamma:"),
        (lambda: cosine_decay(0.1, 0), ValueError, "total_steps:"),
        (lambda: cosine_decay(0.1, 10, final_lr=-1.0), ValueError, "final_lr:"),
        (lambda: cosine_decay(float("inf"), 10), ValueError, "lr0:"),
        (lambda: warmup(0.1, -1), ValueError, "warmup_steps:"),
        (lambda: warmup(0.1, True), TypeError, "warmup_steps:"),
        (lambda: warmup(0.1, 5, start_lr=-1e-3), ValueError, "start_lr:"),
        (lambda: warmup("fast", 5), TypeError, "lr:"),
        (lambda: constant(0.1)(-1), ValueError, "steps_taken:"),
        (lambda: constant(0.1)(1.5), TypeError, "steps_taken:"),
    ],
    ids=[
        "constant-negative",
        "constant-nan",
        "constant-string",
        "exp-lr0",
        "exp-rate-0",
        "exp-rate-inf",
        "exp-steps-0",
        "step-size-0",
        "step-size-float",
        "step-gamma-negative",
        "cosine-total-0",
        "cosine-final-negative",
        "cosine-lr0-inf",
        "warmup-negative",
        "warmup-bool",
        "warmup-start-negative",
        "warmup-string",
        "call-negative",
        "call-float",
    ],
)
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=f"^{message}"):
        make()


def test_as_schedule():
    assert as_schedule(0.1) == constant(0.1)
    assert as_schedule(3) == constant(3.0)
    sched = cosine_decay(0.1, 10)
    assert as_schedule(sched) is sched
    custom = lambda t: 0.1
    assert as_schedule(custom) is custom
    with pytest.raises(TypeError, match="^lr:"):
        as_schedule(None)
    with pytest.raises(TypeError, match="^lr:"):
        as_schedule(True)


@pytest.mark.parametrize(
    "bad",
    [-1e-3, float("nan"), float("inf"), -float("inf")],
    ids=["negative", "nan", "inf", "-inf"],
)
def test_check_lr_rejects(bad):
    with pytest.raises(ValueError, match="^lr: expected a finite number >= 0"):
        check_lr(bad)
    with pytest.raises(ValueError, match="^schedule"):
        check_lr(bad, name="schedule(3)")


def test_check_lr_accepts():
    assert check_lr(0) == 0.0 and type(check_lr(0)) is float
    assert check_lr(np.float32(0.5)) == 0.5
    with pytest.raises(TypeError, match="^lr:"):
        check_lr(None)
