"""fastrmsprop.torch against torch.optim: same steps, same params, same state.

torch is an optional extra, so this module is skipped when it is not installed.
Every comparison runs both optimizers side by side on the same tensors for several
steps and compares every param and every state tensor after each step.

Tolerances (torch.testing.assert_close, rtol / atol):

| dtype   | params and state | why                                              |
|---------|------------------|--------------------------------------------------|
| float64 | 1e-12 / 1e-14    | a few ulps per op (FMA contraction, op order)    |
| float32 | 1e-5 / 1e-6      | the same ulps at float32, grown by momentum      |

Measured worst absolute differences over all cases with the compiled kernel:
2.2e-16 (float64) and 4.5e-8 (float32); the NumPy reference backend, whose float32
operations are ordered differently, reaches 9.5e-7 on a momentum buffer.

The configurations are those torch's own optimizer tests use on CPU
(torch/testing/_internal/common_optimizers.py, optim_inputs_func_*), plus
momentum without centering for RMSprop and decoupled weight decay for Adam.
"""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastrmsprop
import fastrmsprop.torch as ft

TOLERANCES = {
    torch.float64: {"rtol": 1e-12, "atol": 1e-14},
    torch.float32: {"rtol": 1e-5, "atol": 1e-6},
}

# Sizes around a vector width, a 2-D and a 3-D param, and an empty one.
SHAPES = [(5, 7), (7,), (1,), (37,), (3, 4, 5), (0, 3)]
STEPS = 6
# On this step the second param has no grad, so per-param step counts diverge.
STEP_WITHOUT_GRAD = 2

RMSPROP_CONFIGS = {
    "default": {},
    "non-default lr": {"lr": 1e-3},
    "nonzero weight_decay": {"weight_decay": 0.1},
    "maximize": {"maximize": True},
    "centered": {"weight_decay": 0.1, "centered": True},
    "maximize, weight_decay": {"maximize": True, "weight_decay": 0.1},
    "momentum": {"weight_decay": 0.1, "centered": True, "momentum": 0.1},
    "maximize, centered, weight_decay, w/ momentum": {
        "weight_decay": 0.1,
        "centered": True,
        "momentum": 0.1,
        "maximize": True,
    },
    "momentum, not centered": {"momentum": 0.9},
    "Tensor lr": {"lr": 1e-3, "tensor_lr": True},
}

ADAGRAD_CONFIGS = {
    "default": {},
    "nonzero weight_decay": {"weight_decay": 0.1},
    "maximize": {"weight_decay": 0.1, "maximize": True},
    "non-default lr": {"lr": 0.1},
    "initial_accumulator_value": {
        "initial_accumulator_value": 0.1,
        "weight_decay": 0.1,
    },
    "lr_decay": {"lr": 0.1, "lr_decay": 0.5, "weight_decay": 0.1},
    "Tensor lr": {"lr": 0.001, "tensor_lr": True},
}

ADAM_CONFIGS = {
    "default": {},
    "non-default lr": {"lr": 0.01},
    "nonzero weight_decay": {"weight_decay": 0.1},
    "maximize": {"weight_decay": 0.1, "maximize": True},
    "amsgrad": {"weight_decay": 0.1, "amsgrad": True},
    "Tensor lr": {"lr": 0.01, "tensor_lr": True},
}

CASES = (
    [("RMSprop", d, k) for d, k in RMSPROP_CONFIGS.items()]
    + [("Adagrad", d, k) for d, k in ADAGRAD_CONFIGS.items()]
    + [("Adam", d, k) for d, k in ADAM_CONFIGS.items()]
    + [
        (
            "Adam",
            "decoupled_weight_decay",
            {"weight_decay": 0.1, "decoupled_weight_decay": True},
        )
    ]
    + [("AdamW", d, k) for d, k in ADAM_CONFIGS.items()]
)


def case_id(case: tuple) -> str:
    return f"{case[0]}-{case[1]}"


def make_params(dtype: torch.dtype, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.randn(shape, generator=generator, dtype=torch.float64)
        .to(dtype)
        .requires_grad_()
        for shape in SHAPES
    ]


def clone_params(params: list[torch.Tensor]) -> list[torch.Tensor]:
    return [p.detach().clone().requires_grad_() for p in params]


def set_grads(params: list[torch.Tensor], step: int, dtype: torch.dtype) -> None:
    """Deterministic grads for `step`, the same for every run."""
    generator = torch.Generator().manual_seed(1000 + step)
    for index, param in enumerate(params):
        grad = torch.randn(param.shape, generator=generator, dtype=torch.float64)
        skip = step == STEP_WITHOUT_GRAD and index == 1
        param.grad = None if skip else grad.to(dtype)


def kwargs_for(config: dict, dtype: torch.dtype) -> dict:
    kwargs = dict(config)
    if kwargs.pop("tensor_lr", False):
        # torch.optim.Adam computes its step size in the lr tensor's dtype.
        kwargs["lr"] = torch.tensor(kwargs["lr"], dtype=dtype)
    return kwargs


def groups_for(params: list[torch.Tensor], kwargs: dict) -> list[dict]:
    """Two param groups: the config's, and one with its own lr (a second call)."""
    return [{"params": params[:3]}, {"params": params[3:], "lr": 0.005}]


def assert_same(
    ours: torch.optim.Optimizer,
    theirs: torch.optim.Optimizer,
    params_ours: list[torch.Tensor],
    params_theirs: list[torch.Tensor],
    tolerance: dict,
) -> None:
    for index, (mine, reference) in enumerate(zip(params_ours, params_theirs)):
        torch.testing.assert_close(
            mine, reference, **tolerance, msg=lambda m, i=index: f"param {i}: {m}"
        )
    state_ours = ours.state_dict()["state"]
    state_theirs = theirs.state_dict()["state"]
    assert state_ours.keys() == state_theirs.keys()
    for index, reference in state_theirs.items():
        assert state_ours[index].keys() == reference.keys()
        for name, value in reference.items():
            mine = state_ours[index][name]
            if name == "step":
                assert mine.dtype == value.dtype and mine.shape == ()
                assert mine.item() == value.item()
            else:
                torch.testing.assert_close(
                    mine,
                    value,
                    **tolerance,
                    msg=lambda m, i=index, n=name: f"state {i} {n}: {m}",
                )


def run_pair(name: str, config: dict, dtype: torch.dtype, steps: range) -> tuple:
    params_theirs = make_params(dtype)
    params_ours = clone_params(params_theirs)
    kwargs = kwargs_for(config, dtype)
    theirs = getattr(torch.optim, name)(
        groups_for(params_theirs, kwargs), **copy.deepcopy(kwargs)
    )
    ours = getattr(ft, name)(groups_for(params_ours, kwargs), **kwargs)
    for step in steps:
        set_grads(params_theirs, step, dtype)
        set_grads(params_ours, step, dtype)
        theirs.step()
        ours.step()
        assert_same(ours, theirs, params_ours, params_theirs, TOLERANCES[dtype])
    return ours, theirs, params_ours, params_theirs


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_steps_match_torch(case: tuple, dtype: torch.dtype) -> None:
    name, _, config = case
    run_pair(name, config, dtype, range(STEPS))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_state_dict_crosses_over_mid_run(case: tuple) -> None:
    """Our state dict continues in torch's optimizer and torch's in ours."""
    name, _, config = case
    dtype = torch.float64
    ours, theirs, params_ours, params_theirs = run_pair(name, config, dtype, range(3))
    kwargs = kwargs_for(config, dtype)
    params_a = clone_params(params_ours)
    params_b = clone_params(params_theirs)
    torch_from_ours = getattr(torch.optim, name)(groups_for(params_a, kwargs), **kwargs)
    ours_from_torch = getattr(ft, name)(groups_for(params_b, kwargs), **kwargs)
    torch_from_ours.load_state_dict(copy.deepcopy(ours.state_dict()))
    ours_from_torch.load_state_dict(copy.deepcopy(theirs.state_dict()))
    for step in range(3, STEPS):
        for params in (params_ours, params_theirs, params_a, params_b):
            set_grads(params, step, dtype)
        for optimizer in (ours, theirs, torch_from_ours, ours_from_torch):
            optimizer.step()
        tolerance = TOLERANCES[dtype]
        assert_same(ours_from_torch, theirs, params_b, params_theirs, tolerance)
        assert_same(ours, torch_from_ours, params_ours, params_a, tolerance)


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad", "Adam", "AdamW"])
def test_param_groups_match_torch(name: str) -> None:
    """Same defaults, and every torch group key, in our param groups."""
    mine = getattr(ft, name)([torch.zeros(3, requires_grad=True)])
    reference = getattr(torch.optim, name)([torch.zeros(3, requires_grad=True)])
    assert mine.defaults.items() >= reference.defaults.items()
    group_ours = {k: v for k, v in mine.param_groups[0].items() if k != "params"}
    group_torch = {k: v for k, v in reference.param_groups[0].items() if k != "params"}
    assert group_ours.items() >= group_torch.items()


def make_model(dtype: torch.dtype = torch.float64) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)
    ).to(dtype)


def model_data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    inputs = torch.randn(32, 6, generator=generator, dtype=torch.float64)
    return inputs, torch.randn(32, 2, generator=generator, dtype=torch.float64)


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad", "Adam", "AdamW"])
def test_closure_and_scheduler_match_torch(name: str) -> None:
    """step(closure) returns the loss; lr_scheduler drives our lr like torch's."""
    inputs, targets = model_data()
    model_theirs = make_model()
    model_ours = copy.deepcopy(model_theirs)
    theirs = getattr(torch.optim, name)(model_theirs.parameters(), lr=0.05)
    ours = getattr(ft, name)(model_ours.parameters(), lr=0.05)
    schedulers = [
        torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
        for optimizer in (theirs, ours)
    ]

    def closure_for(model: torch.nn.Module, optimizer) -> callable:
        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(inputs), targets)
            loss.backward()
            return loss

        return closure

    for _ in range(STEPS):
        loss_theirs = theirs.step(closure_for(model_theirs, theirs))
        loss_ours = ours.step(closure_for(model_ours, ours))
        torch.testing.assert_close(loss_ours, loss_theirs, rtol=1e-12, atol=0)
        for scheduler in schedulers:
            scheduler.step()
        assert ours.param_groups[0]["lr"] == theirs.param_groups[0]["lr"]
        for mine, reference in zip(model_ours.parameters(), model_theirs.parameters()):
            torch.testing.assert_close(mine, reference, rtol=1e-12, atol=1e-14)
    assert ours.param_groups[0]["lr"] == 0.05 * 0.5**3


# -- mixed precision ----------------------------------------------------------
#
# A fair torch counterpart of a bfloat16 or float16 param with float32 state: the
# kernel widens the stored param (exactly), updates float32 state, computes the new
# param in float32 and rounds it to nearest even. torch does the same when each
# step runs torch.optim in float32 on a widened copy of the param with persistent
# float32 state, and the result is rounded back into the low-precision param. A
# float32 master copy kept across steps would not be fair: updates smaller than
# half an ulp accumulate there and are lost in a low-precision param.
#
# The float32 math differs by a few float32 ulps (as above); after rounding, a
# param then differs by one low-precision ulp where its float32 value lay on a
# rounding boundary. State compares at float32 tolerance, params within two ulps
# with at least 90% of elements bitwise equal.

LOW_PRECISION_ULP = {torch.bfloat16: 2.0**-8, torch.float16: 2.0**-11}


class RoundedTorch:
    """torch.optim on float32 copies of low-precision params, rounded back."""

    def __init__(
        self, name: str, params: list, state_dtype: torch.dtype, **kwargs
    ) -> None:
        self.params = params
        self.state_dtype = state_dtype
        self.wide = [p.detach().float().requires_grad_() for p in params]
        self.optimizer = getattr(torch.optim, name)(self.wide, **kwargs)

    def step(self) -> None:
        with torch.no_grad():
            for wide, param in zip(self.wide, self.params):
                wide.copy_(param)
                wide.grad = None if param.grad is None else param.grad.float()
        self.optimizer.step()
        with torch.no_grad():
            for wide, param in zip(self.wide, self.params):
                param.copy_(wide)
                for name, value in self.optimizer.state[wide].items():
                    if name != "step":
                        value.copy_(value.to(self.state_dtype))


@pytest.mark.parametrize(
    "state_dtype", [None, "param"], ids=["f32-state", "param-state"]
)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize(
    "case",
    [
        ("RMSprop", {"momentum": 0.9, "centered": True, "lr": 1e-2}),
        ("Adagrad", {"lr": 0.1, "lr_decay": 0.1}),
        ("Adam", {"lr": 1e-2, "amsgrad": True}),
        ("AdamW", {"lr": 1e-2, "weight_decay": 0.1}),
    ],
    ids=lambda case: case[0],
)
def test_low_precision_matches_rounded_torch(case, dtype, state_dtype) -> None:
    name, kwargs = case
    params_theirs = make_params(dtype)
    params_ours = clone_params(params_theirs)
    wide_state = torch.float32 if state_dtype is None else dtype
    theirs = RoundedTorch(name, params_theirs, wide_state, **kwargs)
    ours = getattr(ft, name)(params_ours, state_dtype=state_dtype, **kwargs)
    for step in range(STEPS):
        set_grads(params_theirs, step, dtype)
        set_grads(params_ours, step, dtype)
        theirs.step()
        ours.step()
        for mine, reference in zip(params_ours, params_theirs):
            assert mine.dtype == dtype
            if not mine.numel():
                continue
            mine, reference = mine.detach().float(), reference.detach().float()
            ulps = (mine - reference).abs() / (
                reference.abs().clamp_min(1.0) * LOW_PRECISION_ULP[dtype]
            )
            assert float(ulps.max()) <= 2.0
            assert float((mine == reference).float().mean()) >= 0.9
        for wide, param in zip(theirs.wide, params_ours):
            reference_state = theirs.optimizer.state.get(wide, {})
            for key, value in reference_state.items():
                if key == "step":
                    assert ours.state[param][key].item() == value.item()
                    continue
                mine = ours.state[param][key]
                assert mine.dtype == wide_state
                if state_dtype is None:
                    # Weight decay makes the state see the (rounded) param.
                    torch.testing.assert_close(mine, value, rtol=1e-3, atol=1e-5)
                else:
                    torch.testing.assert_close(
                        mine.float(),
                        value.float(),
                        rtol=2 * LOW_PRECISION_ULP[dtype],
                        atol=1e-5,
                    )


def test_low_precision_state_survives_load_state_dict() -> None:
    """torch casts loaded state to the param dtype; ours keeps float32 exactly."""
    params = make_params(torch.bfloat16)
    ours = ft.Adam(params, lr=1e-2)
    for step in range(3):
        set_grads(params, step, torch.bfloat16)
        ours.step()
    saved = copy.deepcopy(ours.state_dict())
    loaded = ft.Adam(clone_params(params), lr=1e-2)
    loaded.load_state_dict(saved)
    for index, value in saved["state"].items():
        for name in ("exp_avg", "exp_avg_sq"):
            mine = loaded.state_dict()["state"][index][name]
            assert mine.dtype == torch.float32
            assert torch.equal(mine, value[name])


# -- skipping non-finite steps --------------------------------------------------


def snapshot(optimizer, params) -> list[torch.Tensor]:
    tensors = [p.detach().clone() for p in params]
    for param_state in optimizer.state.values():
        tensors += [v.clone() for v in param_state.values()]
    return tensors


@pytest.mark.parametrize("two_calls", [False, True], ids=["one-call", "two-calls"])
@pytest.mark.parametrize("name", ["RMSprop", "Adagrad", "Adam", "AdamW"])
def test_skip_nonfinite_changes_nothing(name: str, two_calls: bool) -> None:
    dtype = torch.float64
    params_theirs = make_params(dtype)
    params_ours = clone_params(params_theirs)
    kwargs = {"lr": 0.01}
    if two_calls:
        groups_ours = groups_for(params_ours, kwargs)
        groups_theirs = groups_for(params_theirs, kwargs)
    else:
        groups_ours, groups_theirs = params_ours, params_theirs
    theirs = getattr(torch.optim, name)(groups_theirs, **kwargs)
    ours = getattr(ft, name)(groups_ours, skip_nonfinite=True, **kwargs)
    for step in range(STEPS):
        set_grads(params_ours, step, dtype)
        if step == 3:
            before = snapshot(ours, params_ours)
            bad = float("nan") if two_calls else float("inf")
            params_ours[-2].grad.view(-1)[5] = bad
            assert ours.step(lambda: 42.0) == 42.0
            after = snapshot(ours, params_ours)
            assert all(torch.equal(a, b) for a, b in zip(before, after))
            assert ours.skipped_steps == 1
            continue
        set_grads(params_theirs, step, dtype)
        theirs.step()
        ours.step()
        assert_same(ours, theirs, params_ours, params_theirs, TOLERANCES[dtype])
    assert ours.skipped_steps == 1


def test_nonfinite_grad_propagates_like_torch_by_default() -> None:
    params_theirs = make_params(torch.float64)
    params_ours = clone_params(params_theirs)
    theirs = torch.optim.RMSprop(params_theirs)
    ours = ft.RMSprop(params_ours)
    for params in (params_theirs, params_ours):
        set_grads(params, 0, torch.float64)
        params[0].grad[1, 2] = float("nan")
    theirs.step()
    ours.step()
    assert torch.isnan(params_ours[0][1, 2])
    assert ours.skipped_steps == 0
    torch.testing.assert_close(params_ours[0], params_theirs[0], equal_nan=True)


def _mutate(step: int, optimizer, params: list[torch.Tensor], extra) -> None:
    """The same change, made to either run between two steps."""
    groups = optimizer.param_groups
    if step == 1:
        groups[1]["lr"] = groups[0]["lr"]  # the two calls merge into one
    elif step == 2:
        with torch.no_grad():
            params[0].data = params[0].data * 0.5  # new memory for a param
    elif step == 3:
        groups[0]["weight_decay"] = 0.05  # the call splits again
    elif step == 4:
        state = optimizer.state[params[2]]
        for name in [n for n in state if n != "step"]:
            state[name] = state[name].clone()  # new memory for its state
    elif step == 5:
        optimizer.add_param_group({"params": [extra], "lr": 0.02})


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad", "Adam"])
def test_changes_between_steps_match_torch(name: str) -> None:
    """Regrouped hyperparameters, replaced param and state memory, a new group and
    a grad that comes and goes: every step still matches torch's."""
    dtype = torch.float64
    params_theirs = make_params(dtype)
    params_ours = clone_params(params_theirs)
    extra_theirs = torch.linspace(-1, 1, 9, dtype=dtype).requires_grad_()
    extra_ours = extra_theirs.detach().clone().requires_grad_()
    kwargs = {"lr": 0.01}
    theirs = getattr(torch.optim, name)(groups_for(params_theirs, kwargs), **kwargs)
    ours = getattr(ft, name)(groups_for(params_ours, kwargs), **kwargs)
    for step in range(8):
        _mutate(step, theirs, params_theirs, extra_theirs)
        _mutate(step, ours, params_ours, extra_ours)
        for params, extra in ((params_theirs, extra_theirs), (params_ours, extra_ours)):
            # Step numbers past STEP_WITHOUT_GRAD: every param of the first groups
            # has a grad, so each change above is the only one of its step.
            set_grads(params, 10 + step, dtype)
            extra.grad = None if step == 6 else torch.full_like(extra, 0.3)
        theirs.step()
        ours.step()
        assert_same(
            ours,
            theirs,
            params_ours + [extra_ours],
            params_theirs + [extra_theirs],
            TOLERANCES[dtype],
        )


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad", "Adam"])
def test_one_optimizer_from_many_threads_equals_serial_steps(name: str) -> None:
    """The kernel releases the GIL, so steps from several threads overlap; each
    optimizer serializes its own steps. With the same grads every step, any serial
    order gives the same bytes."""
    threads, steps = 4, 8
    # Large enough that a step lasts a while with the GIL released.
    shapes = [(3 * 32768 + 5,), (17,)]
    generator = torch.Generator().manual_seed(5)
    start = [torch.randn(s, generator=generator) for s in shapes]
    grads = [torch.randn(s, generator=generator) for s in shapes]
    runs = []
    for _ in range(2):
        params = [p.clone().requires_grad_() for p in start]
        for param, grad in zip(params, grads):
            param.grad = grad.clone()
        runs.append((params, getattr(ft, name)(params, lr=1e-3)))
    (serial_params, serial), (shared_params, shared) = runs
    for _ in range(threads * steps):
        serial.step()
    barrier = threading.Barrier(threads)

    def job() -> None:
        barrier.wait()
        for _ in range(steps):
            shared.step()

    workers = [threading.Thread(target=job) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for mine, reference in zip(shared_params, serial_params):
        assert torch.equal(mine, reference)
    for param, reference in zip(shared_params, serial_params):
        for key, value in serial.state[reference].items():
            assert torch.equal(shared.state[param][key], value), key


# -- zero copy and one call ------------------------------------------------------


def test_one_kernel_call_on_the_tensors_own_memory(monkeypatch) -> None:
    calls = []
    original = fastrmsprop.adam_step

    def recording(params, grads, exp_avgs, exp_avg_sqs, **kwargs):
        calls.append((list(params), list(exp_avgs), list(exp_avg_sqs)))
        return original(params, grads, exp_avgs, exp_avg_sqs, **kwargs)

    monkeypatch.setattr(fastrmsprop, "adam_step", recording)
    params = make_params(torch.float32)
    # Two groups with equal hyperparameters share one call; a third does not.
    optimizer = ft.Adam(
        [
            {"params": params[:2]},
            {"params": params[2:4]},
            {"params": params[4:], "lr": 0.5},
        ]
    )
    set_grads(params, 0, torch.float32)
    optimizer.step()
    set_grads(params, 1, torch.float32)
    pointers = [p.data_ptr() for p in params]
    optimizer.step()
    assert len(calls) == 4
    assert [len(c[0]) for c in calls] == [4, 2, 4, 2]
    # The empty param has no memory to share.
    used = params[:4] + params[4:]
    for array, param in zip(calls[2][0] + calls[3][0], used):
        if param.numel():
            assert array.__array_interface__["data"][0] == param.data_ptr()
    for array, param in zip(calls[2][1] + calls[3][1], used):
        if param.numel():
            assert array.__array_interface__["data"][0] == (
                optimizer.state[param]["exp_avg"].data_ptr()
            )
    assert pointers == [p.data_ptr() for p in params]


def test_bfloat16_is_passed_as_ml_dtypes_view(monkeypatch) -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    seen = []
    original = fastrmsprop.rmsprop_step

    def recording(params, grads, square_avgs, **kwargs):
        seen.extend(params)
        return original(params, grads, square_avgs, **kwargs)

    monkeypatch.setattr(fastrmsprop, "rmsprop_step", recording)
    param = torch.ones(4, dtype=torch.bfloat16, requires_grad=True)
    param.grad = torch.ones(4, dtype=torch.bfloat16)
    ft.RMSprop([param]).step()
    assert seen[0].dtype == ml_dtypes.bfloat16
    assert seen[0].__array_interface__["data"][0] == param.data_ptr()


# -- refused inputs ---------------------------------------------------------------


def test_non_contiguous_param_is_refused() -> None:
    param = torch.zeros(4, 6).t().requires_grad_()
    optimizer = ft.RMSprop([param])
    param.grad = torch.ones(6, 4)
    with pytest.raises(ValueError, match="not contiguous"):
        optimizer.step()


def test_non_contiguous_grad_is_read() -> None:
    params_theirs = [torch.ones(4, 6, dtype=torch.float64, requires_grad=True)]
    params_ours = clone_params(params_theirs)
    grad = torch.arange(24, dtype=torch.float64).reshape(6, 4).t()
    params_theirs[0].grad = grad
    params_ours[0].grad = grad
    theirs = torch.optim.RMSprop(params_theirs)
    ours = ft.RMSprop(params_ours)
    theirs.step()
    ours.step()
    assert_same(ours, theirs, params_ours, params_theirs, TOLERANCES[torch.float64])


def test_other_device_is_refused_naming_cpu() -> None:
    param = torch.empty(3, device="meta", requires_grad=True)
    with pytest.raises(ValueError, match="cpu device only"):
        ft.Adam([param])


def test_sparse_grad_is_refused() -> None:
    param = torch.zeros(5, requires_grad=True)
    optimizer = ft.Adagrad([param])
    param.grad = torch.zeros(5).to_sparse()
    with pytest.raises(ValueError, match="sparse"):
        optimizer.step()


def test_unsupported_dtype_and_options_are_refused() -> None:
    with pytest.raises(TypeError, match="dtype"):
        ft.Adam([torch.zeros(3, dtype=torch.complex64, requires_grad=True)])
    with pytest.raises(ValueError, match="differentiable"):
        ft.Adam([torch.zeros(3, requires_grad=True)], differentiable=True)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        ft.RMSprop([torch.zeros(3, requires_grad=True)], lr=-1.0)
    with pytest.raises(ValueError, match="state_dtype"):
        ft.RMSprop([torch.zeros(3, requires_grad=True)], state_dtype="float16")


# -- RMSprop extras ---------------------------------------------------------------


def numpy_copies(params: list[torch.Tensor]) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in params]


@pytest.mark.parametrize("preset", ["tf1", "keras", "optax"])
def test_presets_follow_the_reference(preset: str) -> None:
    """A preset's extras reach the kernel: compare with the NumPy reference."""
    from fastrmsprop import presets, reference

    dtype = torch.float64
    params = make_params(dtype)
    optimizer = ft.RMSprop(params, lr=0.01, momentum=0.5, preset=preset)
    hyper = presets.resolve(preset, lr=0.01, momentum=0.5)
    expected = numpy_copies(params)
    square_avgs = [np.full(p.shape, hyper["initial_square_avg"]) for p in expected]
    buffers = [np.zeros(p.shape) for p in expected]
    for step in range(STEPS):
        set_grads(params, step, dtype)
        used = [i for i, p in enumerate(params) if p.grad is not None]
        reference.rmsprop_step(
            [expected[i] for i in used],
            [params[i].grad.numpy() for i in used],
            [square_avgs[i] for i in used],
            lr=0.01,
            beta=hyper["beta"],
            eps=hyper["eps"],
            momentum=0.5,
            momentum_buffers=[buffers[i] for i in used],
            eps_in_sqrt=hyper["eps_in_sqrt"],
            lr_in_momentum=hyper["lr_in_momentum"],
        )
        optimizer.step()
        for index, param in enumerate(params):
            np.testing.assert_allclose(
                param.detach().numpy(), expected[index], rtol=1e-12, atol=1e-14
            )
            if param in optimizer.state:
                np.testing.assert_allclose(
                    optimizer.state[param]["square_avg"].numpy(),
                    square_avgs[index],
                    rtol=1e-12,
                    atol=1e-14,
                )
    assert optimizer.param_groups[0]["alpha"] == hyper["beta"]


def test_rmsprop_extras_follow_the_reference() -> None:
    from fastrmsprop import reference

    dtype = torch.float64
    params = make_params(dtype)
    extras = {
        "eps_in_sqrt": True,
        "lr_in_momentum": True,
        "decoupled_weight_decay": True,
        "nesterov": True,
    }
    optimizer = ft.RMSprop(
        params, lr=0.01, momentum=0.9, weight_decay=0.1, centered=True, **extras
    )
    expected = numpy_copies(params)
    states = {
        name: [np.zeros(p.shape) for p in expected]
        for name in ("square_avgs", "momentum_buffers", "grad_avgs")
    }
    for step in range(STEPS):
        set_grads(params, step, dtype)
        used = [i for i, p in enumerate(params) if p.grad is not None]
        reference.rmsprop_step(
            [expected[i] for i in used],
            [params[i].grad.numpy() for i in used],
            [states["square_avgs"][i] for i in used],
            lr=0.01,
            momentum=0.9,
            weight_decay=0.1,
            centered=True,
            momentum_buffers=[states["momentum_buffers"][i] for i in used],
            grad_avgs=[states["grad_avgs"][i] for i in used],
            **extras,
        )
        optimizer.step()
        for index, param in enumerate(params):
            np.testing.assert_allclose(
                param.detach().numpy(), expected[index], rtol=1e-12, atol=1e-14
            )


def test_preset_without_weight_decay_refuses_it() -> None:
    with pytest.raises(ValueError, match="weight_decay"):
        ft.RMSprop(
            [torch.zeros(2, requires_grad=True)],
            lr=0.1,
            weight_decay=0.1,
            preset="optax",
        )


def test_importing_fastrmsprop_does_not_import_torch() -> None:
    package_root = os.path.dirname(os.path.dirname(fastrmsprop.__file__))
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [package_root, environment.get("PYTHONPATH", "")]
    )
    code = "import sys, fastrmsprop; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env=environment)


def test_kernel_errors_name_the_param_group_position() -> None:
    shared = torch.zeros(5, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optimizer = ft.Adam([torch.zeros(3, requires_grad=True), shared, shared])
    shared.grad = torch.ones(5)
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['params'\]\[1\]"):
        optimizer.step()


def test_pickle_keeps_the_extra_attributes() -> None:
    param = torch.zeros(3, requires_grad=True)
    optimizer = ft.RMSprop([param], skip_nonfinite=True, state_dtype="param")
    param.grad = torch.full((3,), float("nan"))
    optimizer.step()
    restored = pickle.loads(pickle.dumps(optimizer))
    assert restored.skipped_steps == 1
    assert restored.skip_nonfinite and restored.state_dtype == "param"
