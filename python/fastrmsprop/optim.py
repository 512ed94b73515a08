"""Optimizer classes that own their state: RMSProp, Adagrad, Adam and AdamW.

Each keeps references to the caller's param arrays and updates them in place, one
call into the kernels per ``step`` for the whole list. The learning rate is a number
or a schedule (``fastrmsprop.schedules``) evaluated once per step in Python.
"""

from __future__ import annotations

import numbers
import threading
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, Callable, Union

import numpy as np

from . import _checks, functional, presets
from .schedules import as_schedule, check_lr

__all__ = ["Adagrad", "Adam", "AdamW", "RMSProp"]

LearningRate = Union[float, Callable[[int], float]]


def _param_list(params: Any) -> list[np.ndarray]:
    single = isinstance(params, np.ndarray)
    items = [params] if single else list(params)
    for i, p in enumerate(items):
        name = "params" if single else f"params[{i}]"
        if not isinstance(p, np.ndarray):
            raise TypeError(f"{name}: expected a numpy.ndarray, got {type(p).__name__}")
        if p.dtype not in _checks.STATE_DTYPES:
            raise TypeError(
                f"{name}: expected dtype float32, float64, float16 or bfloat16, "
                f"got {p.dtype}"
            )
        if not p.flags.c_contiguous or not p.flags.writeable:
            raise ValueError(
                f"{name}: expected a writable C-contiguous array (it is updated in "
                "place)"
            )
    return items


def _number(value: Any, key: str) -> Any:
    """A number from a state dict, which np.load returns as a 0-d array."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"{key}: expected a number, got {type(value).__name__}")


class _Optimizer:
    """State, locking, schedules and state dicts common to every optimizer."""

    #: Names of the per-param state arrays, in the kernel's order.
    _state_names: Sequence[str] = ()
    # Hyperparameters whose truth value decides which state arrays exist.
    _structural: Sequence[str] = ()
    #: Whether each param keeps its own step counter (Adagrad, Adam).
    _counts_steps = False

    def __init__(self, params: Any, lr: LearningRate, skip_nonfinite: bool):
        self.params = _param_list(params)
        self.lr = lr
        self.skip_nonfinite = bool(skip_nonfinite)
        self.steps_taken = 0
        self.skipped_steps = 0
        # One step at a time per optimizer: two threads stepping it run one after the
        # other, never interleaved on the same state.
        self._lock = threading.Lock()
        self.state: list[dict[str, Any]] = [{} for _ in self.params]

    @property
    def lr(self) -> LearningRate:
        """The learning rate: a number, or a schedule of the steps taken."""
        return self._lr

    @lr.setter
    def lr(self, value: LearningRate) -> None:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = check_lr(value)
        self._schedule = as_schedule(value)
        self._lr = value

    def current_lr(self) -> float:
        """The learning rate the next step will use."""
        return check_lr(self._schedule(self.steps_taken), "lr (from the schedule)")

    def _new_state(self, name: str, param: np.ndarray, fill: float) -> np.ndarray:
        dtype = _checks.STATE_DTYPES[param.dtype]
        return np.full(param.shape, fill, dtype=dtype)

    def _init_state(self) -> None:
        """Create each param's state arrays."""
        raise NotImplementedError

    def _states(self, name: str) -> list[np.ndarray]:
        return [s[name] for s in self.state]

    def _apply(self, grads: Any, lr: float, steps: list[int]) -> bool:
        raise NotImplementedError

    def step(self, grads: Any) -> bool:
        """Apply one update with ``grads`` (one array per param, same order).

        Returns True when applied; False when ``skip_nonfinite`` is set and a grad
        held NaN or ±inf, in which case nothing changed but ``skipped_steps``.
        """
        with self._lock:
            lr = self.current_lr()
            steps = [s["step"] + 1 for s in self.state] if self._counts_steps else []
            result = self._apply(grads, lr, steps)
            applied = result is None or bool(result)
            if not applied:
                self.skipped_steps += 1
                return False
            self.steps_taken += 1
            if self._counts_steps:
                for s, t in zip(self.state, steps):
                    s["step"] = t
            return True

    def _hyperparameters(self) -> dict[str, Any]:
        raise NotImplementedError

    def _set_hyperparameters(self, values: dict[str, Any]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """A flat dict of NumPy arrays and numbers, safe for np.savez and pickle.

        Keys: ``optimizer``, ``steps_taken``, ``skipped_steps``,
        ``hyperparameters.<name>`` (``lr`` only when it is a number) and
        ``state.<i>.<name>`` (copies of the state arrays; ``step`` for Adagrad and
        Adam).
        """
        with self._lock:
            out: dict[str, Any] = {
                "optimizer": type(self).__name__,
                "steps_taken": self.steps_taken,
                "skipped_steps": self.skipped_steps,
            }
            for name, value in self._hyperparameters().items():
                out[f"hyperparameters.{name}"] = value
            if not callable(self._lr):
                out["hyperparameters.lr"] = self._lr
            for i, s in enumerate(self.state):
                for name in self._state_names:
                    if name in s:
                        out[f"state.{i}.{name}"] = s[name].copy()
                if self._counts_steps:
                    out[f"state.{i}.step"] = s["step"]
            return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state dict from :meth:`state_dict` (also after np.savez/np.load).

        Every key, shape, dtype and hyperparameter is checked first; on any mismatch
        a ``ValueError`` or ``TypeError`` names the key and nothing changes.
        """
        with self._lock:
            expected = set(self.state_dict_keys())
            given = set(state_dict)
            lr_key = "hyperparameters.lr"
            missing = sorted((expected - given) - {lr_key})
            extra = sorted(given - expected - {lr_key})
            if missing:
                raise ValueError(f"{missing[0]}: missing from the state dict")
            if extra:
                raise ValueError(
                    f"{extra[0]}: not a key of a {type(self).__name__} state dict "
                    "for these params"
                )
            kind = str(_number(state_dict["optimizer"], "optimizer"))
            if kind != type(self).__name__:
                raise ValueError(
                    f"optimizer: the state dict is from {kind}, not "
                    f"{type(self).__name__}"
                )
            arrays = {}
            for i, s in enumerate(self.state):
                for name in self._state_names:
                    if name not in s:
                        continue
                    key = f"state.{i}.{name}"
                    value = state_dict[key]
                    if not isinstance(value, np.ndarray):
                        raise TypeError(
                            f"{key}: expected a numpy.ndarray, got "
                            f"{type(value).__name__}"
                        )
                    if value.shape != s[name].shape or value.dtype != s[name].dtype:
                        raise ValueError(
                            f"{key}: expected shape {s[name].shape} and dtype "
                            f"{s[name].dtype}, got {value.shape} and {value.dtype}"
                        )
                    arrays[key] = (s[name], value)
            counters = {}
            for key in ("steps_taken", "skipped_steps") + tuple(
                f"state.{i}.step" for i in range(len(self.state)) if self._counts_steps
            ):
                value = _number(state_dict[key], key)
                if not isinstance(value, int) or value < 0:
                    raise ValueError(f"{key}: expected an int >= 0, got {value!r}")
                counters[key] = value
            hyper = {
                key.split(".", 1)[1]: _number(value, key)
                for key, value in state_dict.items()
                if key.startswith("hyperparameters.")
            }
            lr = hyper.pop("lr", None)
            if lr is not None:
                check_lr(lr, lr_key)
            self._check_hyperparameters(hyper)
            current = self._hyperparameters()
            for name in self._structural:
                # These decide which state arrays exist; the state of this
                # optimizer was allocated for its own values.
                if bool(hyper[name]) != bool(current[name]):
                    raise ValueError(
                        f"hyperparameters.{name}: the state dict has {hyper[name]!r}"
                        f" but this optimizer was built with {current[name]!r}; "
                        "build it with the same value to load this state"
                    )

            for target, value in arrays.values():
                np.copyto(target, value)
            self.steps_taken = counters["steps_taken"]
            self.skipped_steps = counters["skipped_steps"]
            if self._counts_steps:
                for i, s in enumerate(self.state):
                    s["step"] = counters[f"state.{i}.step"]
            self._set_hyperparameters(hyper)
            if lr is not None:
                self.lr = lr

    def state_dict_keys(self) -> list[str]:
        keys = ["optimizer", "steps_taken", "skipped_steps"]
        keys += [f"hyperparameters.{n}" for n in self._hyperparameters()]
        if not callable(self._lr):
            keys.append("hyperparameters.lr")
        for i, s in enumerate(self.state):
            keys += [f"state.{i}.{n}" for n in self._state_names if n in s]
            if self._counts_steps:
                keys.append(f"state.{i}.step")
        return keys

    def _check_hyperparameters(self, values: dict[str, Any]) -> None:
        """Raise unless ``values`` would be accepted by the constructor."""
        raise NotImplementedError

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self._hyperparameters().items())
        name = type(self).__name__
        return f"{name}({len(self.params)} params, lr={self._lr!r}, {hyper})"


class RMSProp(_Optimizer):
    """RMSProp with momentum, Nesterov, centered and framework presets.

    Per coordinate, with v an exponential moving average of g² (decay ``beta``)::

        v = β·v + (1-β)·g²,   θ -= γ·g / (sqrt(v) + ε)

    plus the centered, momentum, weight decay and ε-placement forms of
    :func:`fastrmsprop.rmsprop_step`. Unset hyperparameters come from ``preset``
    (``fastrmsprop.presets.PRESETS``: torch, tf1, keras, optax); the square average
    starts at ``initial_square_avg`` (1.0 in the tf1 preset).
    """

    _state_names = ("square_avg", "grad_avg", "momentum_buffer")
    _structural = ("centered", "momentum")

    def __init__(
        self,
        params: Any,
        *,
        preset: str = "torch",
        lr: LearningRate | None = None,
        skip_nonfinite: bool = False,
        **hyperparameters: Any,
    ):
        lr_for_preset = lr if isinstance(lr, numbers.Real) else None
        if lr is not None and lr_for_preset is None:
            lr_for_preset = 1.0  # a schedule: only satisfies presets without a default
        resolved = presets.resolve(preset, lr=lr_for_preset, **hyperparameters)
        self.preset = preset
        self._check_hyperparameters(resolved)
        super().__init__(
            params, resolved.pop("lr") if lr is None else lr, skip_nonfinite
        )
        if lr is not None:
            resolved.pop("lr")
        self._set_hyperparameters(resolved)
        self._init_state()

    def _check_hyperparameters(self, values: dict[str, Any]) -> None:
        known = set(presets.HYPERPARAMETERS) - {"lr"}
        unknown = sorted(set(values) - known - {"lr"})
        if unknown:
            raise ValueError(f"hyperparameters.{unknown[0]}: unknown hyperparameter")
        _checks.number(values["beta"], "beta", low=0.0, high=1.0, high_open=True)
        _checks.number(values["eps"], "eps", low=0.0)
        _checks.number(values["weight_decay"], "weight_decay", low=0.0)
        _checks.number(values["momentum"], "momentum", low=0.0)
        _checks.number(values["initial_square_avg"], "initial_square_avg", low=0.0)
        if values["nesterov"] and not values["momentum"] > 0:
            raise ValueError("nesterov: requires momentum > 0")

    def _set_hyperparameters(self, values: dict[str, Any]) -> None:
        values = dict(values)
        values.pop("lr", None)
        # Read-only: switching centered or momentum on would need state that was
        # never allocated. Build a new optimizer, or load a state dict, instead.
        self.hyperparameters = MappingProxyType(values)

    def _hyperparameters(self) -> dict[str, Any]:
        return dict(self.hyperparameters)

    def _init_state(self) -> None:
        h = self.hyperparameters
        for param, s in zip(self.params, self.state):
            s["square_avg"] = self._new_state(
                "square_avg", param, h["initial_square_avg"]
            )
            if h["centered"]:
                s["grad_avg"] = self._new_state("grad_avg", param, 0.0)
            if h["momentum"] > 0:
                s["momentum_buffer"] = self._new_state("momentum_buffer", param, 0.0)

    def _apply(self, grads: Any, lr: float, steps: list[int]) -> bool:
        h = self.hyperparameters
        return functional.rmsprop_step(
            self.params, _grad_list(grads, len(self.params)),
            self._states("square_avg"), lr=lr, beta=h["beta"], eps=h["eps"],
            weight_decay=h["weight_decay"], momentum=h["momentum"],
            momentum_buffers=self._states("momentum_buffer") if h["momentum"] > 0
            else None,
            centered=h["centered"],
            grad_avgs=self._states("grad_avg") if h["centered"] else None,
            maximize=h["maximize"], eps_in_sqrt=h["eps_in_sqrt"],
            lr_in_momentum=h["lr_in_momentum"],
            decoupled_weight_decay=h["decoupled_weight_decay"],
            nesterov=h["nesterov"], skip_nonfinite=self.skip_nonfinite,
        )  # fmt: skip


def _grad_list(grads: Any, count: int) -> Any:
    """A single array stands for a one-param list, as the params do."""
    if isinstance(grads, np.ndarray) and count == 1:
        return [grads]
    return grads


class Adagrad(_Optimizer):
    """Adagrad: the accumulator of squared gradients only grows, so steps only shrink.

    Per coordinate, with t the step of this param and γₜ = γ / (1 + (t-1)·lr_decay)::

        s = s + g²,   θ -= γₜ·g / (sqrt(s) + ε)     (or sqrt(s + ε) if eps_in_sqrt)

    with g negated if ``maximize``, then plus λθ for weight decay.
    """

    _state_names = ("sum",)
    _counts_steps = True

    def __init__(
        self,
        params: Any,
        *,
        lr: LearningRate = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        maximize: bool = False,
        eps_in_sqrt: bool = False,
        skip_nonfinite: bool = False,
    ):
        hyper = dict(
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=bool(maximize),
            eps_in_sqrt=bool(eps_in_sqrt),
        )
        self._check_hyperparameters(hyper)
        super().__init__(params, lr, skip_nonfinite)
        self._set_hyperparameters(hyper)
        self._init_state()

    def _check_hyperparameters(self, values: dict[str, Any]) -> None:
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            _checks.number(values[name], name, low=0.0)

    def _set_hyperparameters(self, values: dict[str, Any]) -> None:
        self.hyperparameters = MappingProxyType(dict(values))

    def _hyperparameters(self) -> dict[str, Any]:
        return dict(self.hyperparameters)

    def _init_state(self) -> None:
        fill = self.hyperparameters["initial_accumulator_value"]
        for param, s in zip(self.params, self.state):
            s["sum"] = self._new_state("sum", param, fill)
            s["step"] = 0

    def _apply(self, grads: Any, lr: float, steps: list[int]) -> bool:
        h = self.hyperparameters
        return functional.adagrad_step(
            self.params, _grad_list(grads, len(self.params)), self._states("sum"),
            lr=lr, steps=steps, lr_decay=h["lr_decay"],
            weight_decay=h["weight_decay"], eps=h["eps"], maximize=h["maximize"],
            eps_in_sqrt=h["eps_in_sqrt"], skip_nonfinite=self.skip_nonfinite,
        )  # fmt: skip


class Adam(_Optimizer):
    """Adam: moving averages of g and g², corrected for their zero start.

    Per coordinate, with t the step of this param::

        m = β₁·m + (1-β₁)·g,   v = β₂·v + (1-β₂)·g²
        θ -= (γ/(1-β₁ᵗ))·m / (sqrt(v)/sqrt(1-β₂ᵗ) + ε)

    Weight decay is added to the gradient (coupled); :class:`AdamW` decouples it.
    ``amsgrad`` uses the running maximum of v.
    """

    _state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _structural = ("amsgrad",)
    _counts_steps = True
    _decoupled = False

    def __init__(
        self,
        params: Any,
        *,
        lr: LearningRate = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
        skip_nonfinite: bool = False,
    ):
        hyper = dict(
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=bool(amsgrad),
            maximize=bool(maximize),
        )
        self._check_hyperparameters(hyper)
        super().__init__(params, lr, skip_nonfinite)
        self._set_hyperparameters(hyper)
        self._init_state()

    def _check_hyperparameters(self, values: dict[str, Any]) -> None:
        if "betas" in values:
            _checks.betas(tuple(values["betas"]))
        else:
            _checks.betas((values["beta1"], values["beta2"]))
        _checks.number(values["eps"], "eps", low=0.0)
        _checks.number(values["weight_decay"], "weight_decay", low=0.0)

    def _set_hyperparameters(self, values: dict[str, Any]) -> None:
        values = dict(values)
        if "betas" not in values:
            values["betas"] = (values.pop("beta1"), values.pop("beta2"))
        values["betas"] = tuple(float(b) for b in values["betas"])
        self.hyperparameters = MappingProxyType(values)

    def _hyperparameters(self) -> dict[str, Any]:
        # Flat numbers, so that np.savez keeps them apart.
        values = dict(self.hyperparameters)
        values["beta1"], values["beta2"] = values.pop("betas")
        return values

    def _init_state(self) -> None:
        for param, s in zip(self.params, self.state):
            s["exp_avg"] = self._new_state("exp_avg", param, 0.0)
            s["exp_avg_sq"] = self._new_state("exp_avg_sq", param, 0.0)
            if self.hyperparameters["amsgrad"]:
                s["max_exp_avg_sq"] = self._new_state("max_exp_avg_sq", param, 0.0)
            s["step"] = 0

    def _apply(self, grads: Any, lr: float, steps: list[int]) -> bool:
        h = self.hyperparameters
        return functional.adam_step(
            self.params, _grad_list(grads, len(self.params)), self._states("exp_avg"),
            self._states("exp_avg_sq"), lr=lr, steps=steps, betas=h["betas"],
            eps=h["eps"], weight_decay=h["weight_decay"],
            decoupled_weight_decay=self._decoupled, amsgrad=h["amsgrad"],
            max_exp_avg_sqs=self._states("max_exp_avg_sq") if h["amsgrad"] else None,
            maximize=h["maximize"], skip_nonfinite=self.skip_nonfinite,
        )  # fmt: skip


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay, θ = θ·(1 - γ·λ) before each update,
    and λ = 1e-2 by default."""

    _decoupled = True

    def __init__(
        self,
        params: Any,
        *,
        lr: LearningRate = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
        skip_nonfinite: bool = False,
    ):
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            skip_nonfinite=skip_nonfinite,
        )
