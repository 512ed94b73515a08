"""The NumPy reference against hand-computed updates, and its argument checks.

The expected numbers below were computed by hand from the specification's formulas
(one step from zero state unless said); they pin down the conventions (where ε sits,
where the lr meets the momentum buffer, the order of maximize and weight decay) that
a test against the reference itself could not see. The hand-computed cases run on the
reference and on the compiled kernel at every SIMD level the CPU has.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import fastrmsprop
from fastrmsprop import presets, reference

HAND = 1e-9  # the hand-computed values are given to 10 decimals
F32 = np.float32
BF16 = np.dtype(ml_dtypes.bfloat16)


def scalar(value, dtype=np.float64) -> np.ndarray:
    return np.array([value], dtype=dtype)


def rmsprop_once(
    p, g, *, square_avg=0.0, dtype=np.float64, impl=reference, **hyper
) -> np.ndarray:
    param, square = scalar(p, dtype), scalar(square_avg, dtype)
    impl.rmsprop_step(param, scalar(g, dtype), square, **hyper)
    return param


def _implementations() -> list:
    """The reference, then the compiled kernel at each SIMD level the CPU has."""
    found = [pytest.param("reference", id="reference")]
    if fastrmsprop.backend() == "cpp":
        found += [
            pytest.param(level, id=f"kernel-{level}")
            for level in fastrmsprop.available_simd_levels()
        ]
    return found


@pytest.fixture(params=_implementations())
def impl(request, restore_backend_settings):
    """Who computes the hand-computed cases: both must give the hand's numbers."""
    if request.param == "reference":
        return reference
    fastrmsprop.set_simd_level(request.param)
    return fastrmsprop


# Hand-computed cases.


@pytest.mark.parametrize(
    "eps_in_sqrt, expected",
    [(False, 0.9090909091), (True, 0.9999000001)],
    ids=["eps-outside", "eps-inside"],
)
def test_rmsprop_eps_placement(eps_in_sqrt, expected, impl):
    # v = 1e-14: outside, u = 1e-6 / (1e-7 + 1e-8); inside, u = 1e-6 / sqrt(1e-8).
    param = rmsprop_once(
        1.0, 1e-6, lr=1e-2, beta=0.99, eps=1e-8, eps_in_sqrt=eps_in_sqrt, impl=impl
    )
    assert param[0] == pytest.approx(expected, abs=HAND)


@pytest.mark.parametrize(
    "lr_in_momentum, after_two",
    [(False, 0.6323701617), (True, 0.3762256712)],
    ids=["lr-outside-buffer", "lr-inside-buffer"],
)
def test_rmsprop_momentum_lr_placement(lr_in_momentum, after_two, impl):
    # With a changing lr the two forms differ: the buffer remembers either u or γ·u.
    param, grad = scalar(1.0), scalar(1.0)
    square_avg, buffer = scalar(0.0), scalar(0.0)
    hyper = {
        "beta": 0.9,
        "eps": 0.0,
        "momentum": 0.9,
        "momentum_buffers": buffer,
        "lr_in_momentum": lr_in_momentum,
    }
    impl.rmsprop_step(param, grad, square_avg, lr=0.1, **hyper)
    assert param[0] == pytest.approx(0.6837722340, abs=HAND)
    impl.rmsprop_step(param, grad, square_avg, lr=0.01, **hyper)
    assert param[0] == pytest.approx(after_two, abs=HAND)


@pytest.mark.parametrize(
    "initial_square_avg, expected",
    [(None, 0.9989464926), (0.0, 0.9683772250)],
    ids=["preset-start-1", "start-0"],
)
def test_tf1_preset(initial_square_avg, expected, impl):
    hyper = presets.resolve("tf1", lr=1e-2, initial_square_avg=initial_square_avg)
    assert hyper["eps_in_sqrt"] and hyper["eps"] == 1e-10 and hyper["beta"] == 0.9
    param = rmsprop_once(
        1.0,
        0.1,
        impl=impl,
        square_avg=hyper["initial_square_avg"],
        lr=hyper["lr"],
        beta=hyper["beta"],
        eps=hyper["eps"],
        eps_in_sqrt=hyper["eps_in_sqrt"],
        lr_in_momentum=hyper["lr_in_momentum"],
    )
    assert param[0] == pytest.approx(expected, abs=HAND)


def test_centered_variance_rounding_below_zero_is_clamped(impl):
    square_avg, grad_avg = scalar(0.01, F32), scalar(0.1, F32)
    # The case is only meaningful if float32 rounding makes v - m̄² negative.
    v = F32(0.99) * F32(0.01) + F32(0.01) * F32(0.1) * F32(0.1)
    m = F32(0.99) * F32(0.1) + F32(0.01) * F32(0.1)
    assert v - m * m < 0

    param = scalar(1.0, F32)
    impl.rmsprop_step(
        param,
        scalar(0.1, F32),
        square_avg,
        lr=1e-2,
        beta=0.99,
        eps=1e-2,
        centered=True,
        grad_avgs=grad_avg,
    )
    assert np.isfinite(param[0])
    assert param[0] == pytest.approx(0.9, rel=1e-6)


def test_rmsprop_maximize_then_coupled_weight_decay(impl):
    param, grad = scalar(1.0), scalar(0.5)
    impl.rmsprop_step(
        param,
        grad,
        scalar(0.0),
        lr=1e-2,
        beta=0.99,
        eps=1e-8,
        weight_decay=0.1,
        maximize=True,
    )
    assert param[0] == pytest.approx(1.0999999750, abs=HAND)
    assert grad[0] == 0.5


@pytest.mark.parametrize(
    "decoupled, grad, expected",
    [
        (False, 0.0, 0.9900000010),
        (True, 0.0, 0.9990000000),
        (False, 0.5, 0.9900000002),
        (True, 0.5, 0.9890000002),
    ],
    ids=["adam-g0", "adamw-g0", "adam-g0.5", "adamw-g0.5"],
)
def test_adam_weight_decay_forms(decoupled, grad, expected, impl):
    param = scalar(1.0)
    impl.adam_step(
        param,
        scalar(grad),
        scalar(0.0),
        scalar(0.0),
        lr=1e-2,
        steps=1,
        weight_decay=0.1,
        decoupled_weight_decay=decoupled,
    )
    assert param[0] == pytest.approx(expected, abs=HAND)


def test_adamw_step_is_adam_with_decoupled_decay(rng, impl):
    grad = rng.standard_normal(10)
    results = []
    for step, extra in [
        (impl.adamw_step, {}),
        (impl.adam_step, {"decoupled_weight_decay": True, "weight_decay": 1e-2}),
    ]:
        param, exp_avg, exp_avg_sq = np.ones(10), np.zeros(10), np.zeros(10)
        step(param, grad, exp_avg, exp_avg_sq, lr=1e-2, steps=1, **extra)
        results.append(param)
    np.testing.assert_array_equal(results[0], results[1])


def test_adagrad_maximize_then_weight_decay(impl):
    # g = -0.5 + 0.1·1 = -0.4; s = 0.1 + 0.16; θ = 1 + 0.1·0.4/sqrt(0.26).
    param = scalar(1.0)
    impl.adagrad_step(
        param,
        scalar(0.5),
        scalar(0.1),
        lr=0.1,
        steps=1,
        weight_decay=0.1,
        maximize=True,
    )
    assert param[0] == pytest.approx(1.0784464540, abs=HAND)


@pytest.mark.parametrize(
    "initial, expected",
    [(0.0, 0.9990000050), (0.1, 0.9996984888)],
    ids=["sum-0", "sum-0.1"],
)
def test_adagrad_eps_inside(initial, expected, impl):
    param = scalar(1.0)
    impl.adagrad_step(
        param,
        scalar(0.1),
        scalar(initial),
        lr=1e-3,
        steps=1,
        eps=1e-7,
        eps_in_sqrt=True,
    )
    assert param[0] == pytest.approx(expected, abs=HAND)


def test_adagrad_lr_decay_uses_step_number(impl):
    # γ₃ = 0.1 / (1 + 2·0.5) = 0.05; s = 1, so θ = 1 - 0.05·1/(1 + 1e-10).
    param = scalar(1.0)
    impl.adagrad_step(param, scalar(1.0), scalar(0.0), lr=0.1, steps=3, lr_decay=0.5)
    assert param[0] == pytest.approx(1.0 - 0.05 / (1.0 + 1e-10), abs=HAND)


def test_amsgrad_keeps_the_maximum(impl):
    # Step 2 with g = 0 lowers v below its step-1 value; v̂ keeps the step-1 value.
    param, exp_avg, exp_avg_sq, v_max = (scalar(1.0) for _ in range(4))
    exp_avg[0] = exp_avg_sq[0] = v_max[0] = 0.0
    for step, grad in [(1, 1.0), (2, 0.0)]:
        impl.adam_step(
            param,
            scalar(grad),
            exp_avg,
            exp_avg_sq,
            lr=1e-2,
            steps=step,
            amsgrad=True,
            max_exp_avg_sqs=v_max,
        )
    assert exp_avg_sq[0] == pytest.approx(0.999 * 0.001, abs=1e-15)
    assert v_max[0] == pytest.approx(0.001, abs=1e-15)
    m1, m2 = 0.1, 0.09
    theta1 = 1.0 - (1e-2 / 0.1) * m1 / (np.sqrt(0.001) / np.sqrt(0.001) + 1e-8)
    c1, c2 = 1.0 - 0.9**2, 1.0 - 0.999**2
    theta2 = theta1 - (1e-2 / c1) * m2 / (np.sqrt(0.001) / np.sqrt(c2) + 1e-8)
    assert param[0] == pytest.approx(theta2, abs=HAND)


STEP_DEFAULTS = {
    "rmsprop": {"lr": 1e-2},
    "adagrad": {"lr": 1e-2},
    "adam": {"lr": 1e-3},
    "adamw": {"lr": 1e-3},
}


def run_steps(name, param, grad, steps=1, impl=reference, **hyper):
    """Run ``steps`` updates of ``name`` from zero state with ``impl``; return
    the state."""
    state_dtype = np.float64 if param.dtype == np.float64 else F32
    zeros = lambda: np.zeros(param.shape, state_dtype)
    state = {}
    for t in range(1, steps + 1):
        if name == "rmsprop":
            state.setdefault("square_avgs", zeros())
            impl.rmsprop_step(param, grad, state["square_avgs"], **hyper)
        elif name == "adagrad":
            state.setdefault("sums", zeros())
            impl.adagrad_step(param, grad, state["sums"], steps=t, **hyper)
        else:
            state.setdefault("exp_avgs", zeros())
            state.setdefault("exp_avg_sqs", zeros())
            step = impl.adam_step if name == "adam" else impl.adamw_step
            step(param, grad, state["exp_avgs"], state["exp_avg_sqs"], steps=t, **hyper)
    return state


@pytest.mark.parametrize("dtype", [np.float16, BF16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("name", list(STEP_DEFAULTS))
def test_half_precision_zero_grad_leaves_params(name, dtype, impl):
    # eps = 1e-8 would be 0 in float16 and give 0/0; the math runs in float32.
    param = np.array([1.0, -2.0, 0.5], dtype)
    zeros = np.zeros(3, dtype)
    run_steps(name, param, zeros, steps=3, impl=impl, **STEP_DEFAULTS[name])
    np.testing.assert_array_equal(param.astype(F32), [1.0, -2.0, 0.5])


@pytest.mark.parametrize(
    "name, hyper, expected",
    [
        ("adam", {"lr": 1e-3}, [9.9990002659e-04, 9.9999999997e-04]),
        ("rmsprop", {"lr": 1e-3, "beta": 0.99}, [9.9900116458e-03, 9.9999999967e-03]),
    ],
    ids=["adam", "rmsprop"],
)
def test_half_precision_grads_use_float32_math(name, hyper, expected, impl):
    grad16 = np.array([1e-4, 300.0], np.float16)  # 300² overflows float16

    # The update itself is measured in float32 before the param is rounded: a
    # float32 param at 0 with the same (exactly widened) grads ends at -update.
    param32 = np.zeros(2, F32)
    run_steps(name, param32, grad16.astype(F32), impl=impl, **hyper)
    np.testing.assert_allclose(-param32, expected, rtol=4 * np.finfo(F32).eps)

    # The float16 path does that same float32 math and rounds once on store.
    param16 = np.zeros(2, np.float16)
    run_steps(name, param16, grad16, impl=impl, **hyper)
    assert np.isfinite(param16).all()
    np.testing.assert_array_equal(param16, param32.astype(np.float16))


@pytest.mark.parametrize("size", [1, 7, 8, 15, 16, 17, 1023, 1024, 1025])
def test_float16_adam_rounds_to_nearest(size, impl):
    # θ = 1 - 1e-3·0.5/(0.5 + 1e-8) ≈ 0.999 lies nearest the float16 0.9990234375.
    param = np.ones(size, np.float16)
    grad = np.full(size, 0.5, np.float16)
    run_steps("adam", param, grad, impl=impl, lr=1e-3)
    assert (param == np.float16(0.9990234375)).all()


@pytest.mark.parametrize("dtype", [np.float16, BF16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("name", list(STEP_DEFAULTS))
def test_half_precision_is_float32_math_rounded_once(name, dtype, rng, impl):
    values = rng.standard_normal((2, 100)).astype(dtype)
    param_half, grad_half = values[0].copy(), values[1].copy()
    param32, grad32 = param_half.astype(F32), grad_half.astype(F32)
    hyper = dict(STEP_DEFAULTS[name], weight_decay=0.1)
    state_half = run_steps(name, param_half, grad_half, impl=impl, **hyper)
    state32 = run_steps(name, param32, grad32, impl=impl, **hyper)
    np.testing.assert_array_equal(param_half, param32.astype(dtype))
    for key in state32:
        np.testing.assert_array_equal(state_half[key], state32[key])


# Shapes, lists and non-finite values.


@pytest.mark.parametrize(
    "shape", [(4, 3), (3, 4), (1, 9), (9, 1), (2, 3, 5), (), (0,), (3, 0)], ids=str
)
@pytest.mark.parametrize("name", list(STEP_DEFAULTS))
def test_shapes_update_every_element(name, shape, rng):
    size = int(np.prod(shape))
    param = rng.uniform(1.0, 2.0, size)
    grad = rng.uniform(0.5, 1.0, size)
    flat = param.copy()
    run_steps(name, flat, grad, steps=2, **STEP_DEFAULTS[name])
    shaped = param.copy().reshape(shape)
    run_steps(name, shaped, grad.reshape(shape), steps=2, **STEP_DEFAULTS[name])
    np.testing.assert_array_equal(shaped.reshape(-1), flat)
    assert (flat != param).all()


def test_list_of_params_equals_one_call_per_param(rng):
    sizes = [5, 0, 17, 1]
    params = [rng.standard_normal(n).astype(F32) for n in sizes]
    grads = [rng.standard_normal(n).astype(F32) for n in sizes]
    singles = [p.copy() for p in params]
    exp_avgs = [np.zeros(n, F32) for n in sizes]
    exp_avg_sqs = [np.zeros(n, F32) for n in sizes]
    steps = [1, 1, 4, 2]
    reference.adam_step(params, grads, exp_avgs, exp_avg_sqs, lr=1e-2, steps=steps)
    for param, grad, t in zip(singles, grads, steps):
        zeros = np.zeros(param.shape, F32)
        reference.adam_step(param, grad, zeros, zeros.copy(), lr=1e-2, steps=t)
    for param, single in zip(params, singles):
        np.testing.assert_array_equal(param, single)


def test_non_contiguous_grad_is_read(rng):
    grad_storage = rng.standard_normal((10, 2))
    param, param_copy = np.ones(10), np.ones(10)
    reference.rmsprop_step(param, grad_storage[:, 0], np.zeros(10), lr=1e-2)
    reference.rmsprop_step(param_copy, grad_storage[:, 0].copy(), np.zeros(10), lr=1e-2)
    np.testing.assert_array_equal(param, param_copy)


def test_one_grad_for_two_params_is_allowed():
    # Grads are only read, so sharing one is legal.
    grad = np.ones(4)
    params = [np.ones(4), np.ones(4)]
    reference.rmsprop_step(params, [grad, grad], [np.zeros(4), np.zeros(4)], lr=0.1)
    np.testing.assert_array_equal(params[0], params[1])


def test_nan_grad_propagates():
    param, square_avg = np.ones(3), np.zeros(3)
    result = reference.rmsprop_step(
        param, np.array([1.0, np.nan, 1.0]), square_avg, lr=1e-2
    )
    assert result is None
    assert np.isnan(param[1]) and np.isnan(square_avg[1])
    assert np.isfinite(param[[0, 2]]).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("name", list(STEP_DEFAULTS))
def test_skip_nonfinite_writes_nothing(name, bad):
    params = [np.ones(3), np.ones(2)]
    good, bad_grad = np.ones(3), np.array([1.0, bad])
    states = [[np.zeros(3), np.zeros(2)], [np.zeros(3), np.zeros(2)]]
    before = [a.copy() for a in params + states[0] + states[1]]
    if name == "rmsprop":
        call = lambda g: reference.rmsprop_step(
            params, g, states[0], lr=1e-2, skip_nonfinite=True
        )
    elif name == "adagrad":
        call = lambda g: reference.adagrad_step(
            params, g, states[0], lr=1e-2, steps=1, skip_nonfinite=True
        )
    else:
        step = reference.adam_step if name == "adam" else reference.adamw_step
        call = lambda g: step(
            params, g, states[0], states[1], lr=1e-2, steps=1, skip_nonfinite=True
        )
    assert call([good, bad_grad]) is False
    for array, copy in zip(params + states[0] + states[1], before):
        np.testing.assert_array_equal(array, copy)
    assert call([good, np.ones(2)]) is True
    assert not np.array_equal(params[0], before[0])


# Argument checks: each case breaks one argument of a valid call.


def valid_call(name: str) -> dict:
    """Arguments of a valid call with two float32 params."""
    zeros = lambda: [np.zeros(3, F32), np.zeros(2, F32)]
    args = {
        "params": [np.ones(3, F32), np.ones(2, F32)],
        "grads": [np.ones(3, F32), np.ones(2, F32)],
        "lr": 1e-2,
    }
    if name == "rmsprop":
        args.update(square_avgs=zeros(), momentum_buffers=zeros(), grad_avgs=zeros())
    elif name == "adagrad":
        args.update(sums=zeros(), steps=1)
    else:
        args.update(
            exp_avgs=zeros(), exp_avg_sqs=zeros(), max_exp_avg_sqs=zeros(), steps=1
        )
    return args


def call(name: str, args: dict):
    args = dict(args)
    positional = [args.pop("params"), args.pop("grads")]
    if name == "rmsprop":
        return reference.rmsprop_step(*positional, args.pop("square_avgs"), **args)
    if name == "adagrad":
        return reference.adagrad_step(*positional, args.pop("sums"), **args)
    return reference.adam_step(
        *positional, args.pop("exp_avgs"), args.pop("exp_avg_sqs"), **args
    )


def arrays_of(args: dict) -> list[np.ndarray]:
    found = []
    for value in args.values():
        items = value if isinstance(value, list) else [value]
        found += [a for a in items if isinstance(a, np.ndarray)]
    return found


def read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def unaligned(size: int) -> np.ndarray:
    storage = bytearray(4 * size + 1)
    return np.frombuffer(storage, F32, count=size, offset=1)


def set_item(key, index, value):
    def change(args):
        args[key][index] = value(args) if callable(value) else value

    return change


def set_arg(key, value):
    def change(args):
        args[key] = value(args) if callable(value) else value

    return change


def both(*changes):
    def change(args):
        for c in changes:
            c(args)

    return change


BAD_INPUTS = [
    # (id, optimizer, change, exception, message start)
    (
        "param-int32",
        "rmsprop",
        set_item("params", 0, np.ones(3, np.int32)),
        TypeError,
        "params[0]: expected dtype",
    ),
    (
        "param-float16-state-float16",
        "rmsprop",
        both(
            set_item("params", 1, np.ones(2, np.float16)),
            set_item("grads", 1, np.ones(2, np.float16)),
            set_item("square_avgs", 1, np.zeros(2, np.float16)),
        ),
        TypeError,
        "square_avgs[1]: expected dtype float32, got float16",
    ),
    (
        "param-bfloat16-state-bfloat16",
        "adagrad",
        both(
            set_item("params", 0, np.ones(3, BF16)),
            set_item("grads", 0, np.ones(3, BF16)),
            set_item("sums", 0, np.zeros(3, BF16)),
        ),
        TypeError,
        "sums[0]: expected dtype float32, got bfloat16",
    ),
    (
        "state-float64-for-float32",
        "adam",
        set_item("exp_avg_sqs", 1, np.zeros(2)),
        TypeError,
        "exp_avg_sqs[1]: expected dtype float32, got float64",
    ),
    (
        "grad-dtype",
        "rmsprop",
        set_item("grads", 1, np.ones(2)),
        TypeError,
        "grads[1]: expected dtype float32, got float64",
    ),
    (
        "param-byteswapped",
        "rmsprop",
        set_item("params", 0, np.ones(3, ">f4")),
        TypeError,
        "params[0]: expected native byte order",
    ),
    (
        "state-byteswapped",
        "rmsprop",
        set_item("square_avgs", 0, np.zeros(3, ">f4")),
        TypeError,
        "square_avgs[0]: expected dtype float32",
    ),
    (
        "state-shape",
        "rmsprop",
        set_item("square_avgs", 1, np.zeros(3, F32)),
        ValueError,
        "square_avgs[1]: expected shape",
    ),
    (
        "grad-shape",
        "adam",
        set_item("grads", 0, np.ones((3, 1), F32)),
        ValueError,
        "grads[0]: expected shape",
    ),
    (
        "param-strided",
        "rmsprop",
        set_item("params", 0, np.ones(6, F32)[::2]),
        ValueError,
        "params[0]: expected a C-contiguous",
    ),
    (
        "param-fortran",
        "rmsprop",
        both(
            set_item("params", 0, np.ones((3, 2), F32, order="F")),
            set_item("grads", 0, np.ones((3, 2), F32)),
            set_item("square_avgs", 0, np.zeros((3, 2), F32)),
        ),
        ValueError,
        "params[0]: expected a C-contiguous",
    ),
    (
        "state-strided",
        "adagrad",
        set_item("sums", 1, np.zeros(4, F32)[::2]),
        ValueError,
        "sums[1]: expected a C-contiguous",
    ),
    (
        "param-readonly",
        "adam",
        set_item("params", 1, lambda a: read_only(np.ones(2, F32))),
        ValueError,
        "params[1]: expected a writable",
    ),
    (
        "param-unaligned",
        "rmsprop",
        set_item("params", 0, lambda a: unaligned(3)),
        ValueError,
        "params[0]: expected an array aligned",
    ),
    (
        "grad-aliases-param",
        "rmsprop",
        set_item("grads", 0, lambda a: a["params"][0]),
        ValueError,
        "params[0]: overlaps grads[0]",
    ),
    (
        "param-twice",
        "rmsprop",
        both(
            set_item("params", 1, lambda a: a["params"][0]),
            set_item("grads", 1, np.ones(3, F32)),
            set_item("square_avgs", 1, np.zeros(3, F32)),
        ),
        ValueError,
        "params[1]: overlaps params[0]",
    ),
    (
        "state-aliases-state",
        "rmsprop",
        both(
            set_arg("momentum", 0.9),
            set_item("momentum_buffers", 0, lambda a: a["square_avgs"][0]),
        ),
        ValueError,
        "momentum_buffers[0]: overlaps square_avgs[0]",
    ),
    (
        "grad-aliases-other-state",
        "adam",
        set_item("grads", 1, lambda a: a["exp_avgs"][1]),
        ValueError,
        "exp_avgs[1]: overlaps grads[1]",
    ),
    (
        "state-partial-overlap",
        "adagrad",
        both(
            set_item("params", 0, lambda a: a["_buffer"][:3]),
            set_item("sums", 0, lambda a: a["_buffer"][2:5]),
            lambda a: a.pop("_buffer"),
        ),
        ValueError,
        "sums[0]: overlaps params[0]",
    ),
    (
        "lengths",
        "rmsprop",
        set_arg("grads", lambda a: a["grads"][:1]),
        ValueError,
        "grads: expected 2 arrays",
    ),
    (
        "single-param-list-state",
        "rmsprop",
        both(set_arg("params", np.ones(3, F32)), set_arg("grads", np.ones(3, F32))),
        TypeError,
        "square_avgs: expected a numpy.ndarray like params",
    ),
    (
        "param-not-array",
        "rmsprop",
        set_item("params", 1, [1.0, 1.0]),
        TypeError,
        "params[1]: expected a numpy.ndarray",
    ),
    (
        "params-scalar",
        "rmsprop",
        set_arg("params", 1.0),
        TypeError,
        "params: expected a numpy.ndarray",
    ),
    ("lr-negative", "rmsprop", set_arg("lr", -1e-3), ValueError, "lr:"),
    ("lr-nan", "adam", set_arg("lr", float("nan")), ValueError, "lr:"),
    ("lr-inf", "adagrad", set_arg("lr", float("inf")), ValueError, "lr:"),
    ("lr-string", "rmsprop", set_arg("lr", "0.1"), TypeError, "lr:"),
    ("lr-array", "rmsprop", set_arg("lr", np.array([0.1])), TypeError, "lr:"),
    ("beta-1", "rmsprop", set_arg("beta", 1.0), ValueError, "beta:"),
    ("beta-negative", "rmsprop", set_arg("beta", -0.1), ValueError, "beta:"),
    ("eps-negative", "rmsprop", set_arg("eps", -1e-8), ValueError, "eps:"),
    ("eps-nan", "adagrad", set_arg("eps", float("nan")), ValueError, "eps:"),
    (
        "weight-decay-negative",
        "adam",
        set_arg("weight_decay", -0.1),
        ValueError,
        "weight_decay:",
    ),
    (
        "momentum-negative",
        "rmsprop",
        set_arg("momentum", -0.9),
        ValueError,
        "momentum:",
    ),
    (
        "lr-decay-negative",
        "adagrad",
        set_arg("lr_decay", -1.0),
        ValueError,
        "lr_decay:",
    ),
    (
        "nesterov-without-momentum",
        "rmsprop",
        set_arg("nesterov", True),
        ValueError,
        "nesterov:",
    ),
    (
        "momentum-without-buffers",
        "rmsprop",
        both(set_arg("momentum", 0.9), set_arg("momentum_buffers", None)),
        ValueError,
        "momentum_buffers:",
    ),
    (
        "centered-without-grad-avgs",
        "rmsprop",
        both(set_arg("centered", True), set_arg("grad_avgs", None)),
        ValueError,
        "grad_avgs:",
    ),
    (
        "amsgrad-without-max",
        "adam",
        both(set_arg("amsgrad", True), set_arg("max_exp_avg_sqs", None)),
        ValueError,
        "max_exp_avg_sqs:",
    ),
    (
        "amsgrad-max-dtype",
        "adam",
        both(set_arg("amsgrad", True), set_item("max_exp_avg_sqs", 0, np.zeros(3))),
        TypeError,
        "max_exp_avg_sqs[0]: expected dtype float32, got float64",
    ),
    ("betas-1", "adam", set_arg("betas", (1.0, 0.999)), ValueError, "betas[0]:"),
    (
        "betas-nan",
        "adam",
        set_arg("betas", (0.9, float("nan"))),
        ValueError,
        "betas[1]:",
    ),
    ("betas-one-value", "adam", set_arg("betas", (0.9,)), TypeError, "betas:"),
    ("steps-0", "adam", set_arg("steps", 0), ValueError, "steps:"),
    ("steps-bool", "adagrad", set_arg("steps", True), TypeError, "steps:"),
    ("steps-float", "adam", set_arg("steps", 1.0), TypeError, "steps:"),
    ("steps-length", "adam", set_arg("steps", [1, 2, 3]), ValueError, "steps:"),
    ("steps-item-0", "adagrad", set_arg("steps", [1, 0]), ValueError, "steps[1]:"),
]


@pytest.mark.parametrize(
    "name, change, error, message",
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_raises_and_writes_nothing(name, change, error, message):
    args = valid_call(name)
    args["_buffer"] = np.zeros(5, F32)
    change(args)
    args.pop("_buffer", None)
    before = [(a, a.tobytes()) for a in arrays_of(args)]
    with pytest.raises(error) as info:
        call(name, args)
    assert str(info.value).startswith(message), str(info.value)
    for array, data in before:
        assert array.tobytes() == data


@pytest.mark.parametrize("name", ["rmsprop", "adagrad", "adam"])
def test_valid_call_of_the_bad_input_cases_passes(name):
    # Guards the table above: each case fails because of its change alone.
    args = valid_call(name)
    assert call(name, args) is None
    assert not np.array_equal(args["params"][0], np.ones(3, F32))


# Presets.


def test_presets_match_the_specification_table():
    table = {  # eps_in_sqrt, initial_square_avg, lr_in_momentum, lr, beta, eps
        "torch": (False, 0.0, False, 1e-2, 0.99, 1e-8),
        "tf1": (True, 1.0, True, None, 0.9, 1e-10),
        "keras": (True, 0.0, True, 1e-3, 0.9, 1e-7),
        "optax": (True, 0.0, True, None, 0.9, 1e-8),
    }
    assert set(presets.PRESETS) == set(table)
    for name, row in table.items():
        preset = presets.PRESETS[name]
        keys = (
            "eps_in_sqrt",
            "initial_square_avg",
            "lr_in_momentum",
            "lr",
            "beta",
            "eps",
        )
        assert tuple(preset[k] for k in keys) == row, name
    assert presets.PRESETS["torch"]["decoupled_weight_decay"] is False
    assert presets.PRESETS["keras"]["decoupled_weight_decay"] is True
    assert not presets.PRESETS["tf1"]["allows_weight_decay"]
    assert not presets.PRESETS["optax"]["allows_weight_decay"]


def test_resolve_returns_every_hyperparameter_of_rmsprop_step():
    hyper = presets.resolve("keras", momentum=0.9, weight_decay=0.01, beta=None)
    assert hyper["momentum"] == 0.9 and hyper["weight_decay"] == 0.01
    assert hyper["beta"] == 0.9  # None keeps the preset's value
    assert "allows_weight_decay" not in hyper
    square_avg = np.full(3, hyper.pop("initial_square_avg"))
    param = np.ones(3)
    reference.rmsprop_step(
        param, np.ones(3), square_avg, momentum_buffers=np.zeros(3), **hyper
    )
    assert (param < 1).all()
    assert presets.resolve() == presets.resolve("torch")


@pytest.mark.parametrize(
    "preset, overrides, error, message",
    [
        ("pytorch", {}, ValueError, "preset:"),
        ("torch", {"alpha": 0.9}, TypeError, "alpha:"),
        ("tf1", {}, ValueError, "lr:"),
        ("optax", {"lr": 1e-3, "weight_decay": 0.1}, ValueError, "weight_decay:"),
        ("tf1", {"lr": 1e-3, "weight_decay": 0.1}, ValueError, "weight_decay:"),
    ],
    ids=[
        "unknown-preset",
        "unknown-name",
        "tf1-no-lr",
        "optax-weight-decay",
        "tf1-weight-decay",
    ],
)
def test_resolve_rejects(preset, overrides, error, message):
    with pytest.raises(error, match=f"^{message}"):
        presets.resolve(preset, **overrides)


def test_resolve_does_not_change_the_preset():
    presets.resolve("torch", lr=5.0)
    assert presets.PRESETS["torch"]["lr"] == 1e-2
