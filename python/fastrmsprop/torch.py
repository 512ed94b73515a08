"""Drop-in replacements for torch.optim RMSprop, Adagrad, Adam and AdamW on CPU.

Each class subclasses `torch.optim.Optimizer` with the constructor, defaults, param
groups, state names and `state_dict` layout of its torch.optim (2.13) namesake, so a
state dict saved by one loads into the other and `torch.optim.lr_scheduler` works
unchanged. A step hands every tensor to the fused kernel by address (a NumPy view on
the tensor's memory, never a copy) and makes one call of the functional API for all
params of all param groups that share their hyperparameters.

This module is the only place in fastrmsprop that imports torch.
"""

from __future__ import annotations

import logging
import operator
import re
import threading
from typing import Any, Callable, ClassVar

import numpy as np
import torch

import fastrmsprop
from fastrmsprop import presets as _presets

__all__ = ["Adagrad", "Adam", "AdamW", "RMSprop"]

logger = logging.getLogger(__name__)

_LOW_PRECISION = (torch.bfloat16, torch.float16)
_SUPPORTED_DTYPES = (torch.float32, torch.float64) + _LOW_PRECISION

# Group keys that only exist for torch's own code paths; they are accepted, kept in
# the param groups so that state dicts round-trip, and have no effect here.
_IGNORED_KEYS = ("foreach", "fused", "capturable", "differentiable")


def _step_dtype(group: dict[str, Any] | None = None) -> torch.dtype:
    # torch.optim keeps `step` in float64 only when that is the default dtype, and
    # in float32 whenever the group asks for its fused kernel.
    if group is not None and group.get("fused"):
        return torch.float32
    if torch.get_default_dtype() == torch.float64:
        return torch.float64
    return torch.float32


def _bfloat16_numpy_dtype() -> Any:
    try:
        import ml_dtypes
    except ImportError as error:
        raise ImportError(
            "bfloat16 tensors need the ml_dtypes package: pip install ml_dtypes"
        ) from error
    return ml_dtypes.bfloat16


def _numpy_view(tensor: torch.Tensor) -> np.ndarray:
    """A NumPy array on the tensor's own memory (no copy, any strides)."""
    if tensor.requires_grad:
        tensor = tensor.detach()
    if tensor.is_neg():
        tensor = tensor.resolve_neg()
    if tensor.dtype is torch.bfloat16:
        return tensor.view(torch.int16).numpy().view(_bfloat16_numpy_dtype())
    return tensor.numpy()


def _layout(tensor: torch.Tensor) -> tuple:
    """What a NumPy view of the tensor depends on."""
    return (tensor.data_ptr(), tensor.dtype, tensor.shape, tensor.stride())


def _layouts(tensors: list) -> list[tuple]:
    """`_layout` of every tensor (inlined: a function call per tensor would cost a
    third of the four torch calls)."""
    return [(t.data_ptr(), t.dtype, t.shape, t.stride()) for t in tensors]


def _partition(keys: list[tuple]) -> tuple[int, ...]:
    """For each group, the first group with an equal kernel key: groups merge into
    one kernel call exactly when their keys are equal."""
    first: dict[tuple, int] = {}
    return tuple(first.setdefault(key, i) for i, key in enumerate(keys))


class _PlannedCall:
    """One kernel call of a step plan: its entries and the views it passes."""

    __slots__ = ("entries", "grads", "group", "names", "params", "states", "steps")

    def __init__(self, group: int, entries: list, names: tuple[str, ...]) -> None:
        self.group = group  # a group whose kernel key is the call's
        self.entries = entries  # (group, param, param_state, (i, j)) per param
        self.names = names  # the state tensors the kernel needs
        self.grads: tuple[int, ...] = ()  # positions in the step's list of grads
        self.steps: tuple = ()  # views of the step counters
        # Views of the params and of their state; None when state_dtype="param"
        # sends the call through float32 copies (`_run_upcast`).
        self.params: tuple | None = None
        self.states: dict[str, tuple] | None = None


class _StepPlan:
    """The kernel calls of a step with their views, kept for the next steps.

    A plan is reused while everything it was made from is unchanged: the state
    mapping, state_dtype, the params of every group and which of them have grads,
    the way groups merge into calls, the state each group needs, and the layout
    (address, dtype, shape, strides) of every param and state tensor it views. A
    view is then one of the memory the tensor owns now, whatever happened to the
    tensor object in between (`p.data = ...`, a replaced state tensor, an in-place
    resize). Grads are not part of it: they are usually new tensors every step.
    """

    __slots__ = (
        "calls",
        "fast_grads",
        "grad_sources",
        "has_grad",
        "layouts",
        "needed",
        "param_ids",
        "partition",
        "sources",
        "state",
        "state_dtype",
    )


def _locate(error: Exception, entries: list) -> Exception:
    """The kernel's error with the position of the param it names in the groups.

    The kernel numbers the tensors of one call, which may span several groups.
    """
    match = re.match(r"\w+\[(\d+)\]", str(error))
    if match is None or int(match.group(1)) >= len(entries):
        return error
    i, j = entries[int(match.group(1))][3]
    return type(error)(
        f"{error} ({match.group(0)} is param_groups[{i}]['params'][{j}])"
    )


def _scalar(value: Any) -> float:
    """A hyperparameter as a Python float; lr may be a one-element tensor."""
    if isinstance(value, torch.Tensor):
        return float(value.item())
    return float(value)


class _KernelOptimizer(torch.optim.Optimizer):
    """Shared machinery: checks, state layout, merging groups, one kernel call."""

    # Filled by subclasses: state tensors with the param's shape.
    _state_names: tuple[str, ...] = ()
    # Group keys the subclass adds on top of torch's; defaults for loading a state
    # dict saved by torch, whose groups do not have them.
    _extra_group_keys: tuple[str, ...] = ()
    # Attributes that torch.optim.Optimizer.__getstate__ would drop.
    _own_attributes: ClassVar[dict[str, Any]] = {
        "skip_nonfinite": False,
        "state_dtype": None,
        "skipped_steps": 0,
    }

    def __init__(
        self,
        params: Any,
        defaults: dict[str, Any],
        *,
        skip_nonfinite: bool,
        state_dtype: str | None,
    ) -> None:
        if state_dtype not in (None, "float32", "param"):
            raise ValueError(
                f"state_dtype: expected None, 'float32' or 'param', got {state_dtype!r}"
            )
        if defaults.get("differentiable"):
            raise ValueError(
                "differentiable=True is not supported: the fused kernel updates "
                "tensors outside of autograd"
            )
        self.skip_nonfinite = bool(skip_nonfinite)
        self.state_dtype = state_dtype
        self.skipped_steps = 0
        self._views: dict[tuple[int, str], tuple] = {}
        self._plan: _StepPlan | None = None
        # The kernel releases the GIL: two threads stepping this optimizer at once
        # would read and write the same params, so steps take turns.
        self._lock = threading.Lock()
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a param group after checking every param's device and dtype."""
        super().add_param_group(param_group)
        index = len(self.param_groups) - 1
        try:
            for j, param in enumerate(self.param_groups[-1]["params"]):
                self._check_param(param, f"param_groups[{index}]['params'][{j}]")
        except (TypeError, ValueError):
            self.param_groups.pop()
            raise

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.update({name: getattr(self, name) for name in self._own_attributes})
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for name, default in self._own_attributes.items():
            if not hasattr(self, name):
                setattr(self, name, default)
        self._views = {}
        self._plan = None
        if "_lock" not in self.__dict__:  # unpickled or deep-copied
            self._lock = threading.Lock()
        defaults = getattr(self, "defaults", {})
        for group in self.param_groups:
            for key in self._extra_group_keys + _IGNORED_KEYS:
                if key in defaults:
                    group.setdefault(key, defaults[key])
        for group in self.param_groups:
            for param in group["params"]:
                param_state = self.state.get(param, {})
                step = param_state.get("step")
                if step is not None and not torch.is_tensor(step):
                    param_state["step"] = torch.tensor(
                        float(step), dtype=_step_dtype(group)
                    )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict saved by this class or by its torch.optim namesake.

        torch casts floating state to the param's dtype while loading; state of
        bfloat16 and float16 params is then re-read from the saved tensors at the
        state dtype of this optimizer (float32 by default), so no precision is lost.
        """
        super().load_state_dict(state_dict)
        saved_ids = [i for g in state_dict["param_groups"] for i in g["params"]]
        params = [p for g in self.param_groups for p in g["params"]]
        for saved_id, param in zip(saved_ids, params):
            saved = state_dict["state"].get(saved_id)
            if saved is None or param not in self.state:
                continue
            param_state = self.state[param]
            dtype = self._state_dtype_for(param)
            for name in self._state_names:
                value = param_state.get(name)
                if value is None:
                    continue
                if value.dtype != dtype or not value.is_contiguous():
                    param_state[name] = saved[name].to(
                        device="cpu", dtype=dtype, memory_format=torch.contiguous_format
                    )

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every param that has a grad; returns the closure's loss.

        With `skip_nonfinite=True`, a step in which any grad holds a NaN or ±inf
        changes no param and no state (the step counters included) and increments
        `skipped_steps`.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad(), self._lock:
            self._update()
        return loss

    # -- hooks for subclasses -------------------------------------------------

    def _kernel_key(self, group: dict[str, Any]) -> tuple:
        """Hyperparameters of one kernel call; groups with equal keys are merged."""
        raise NotImplementedError

    def _init_state(self, group: dict[str, Any], param: torch.Tensor) -> None:
        raise NotImplementedError

    def _needed_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        raise NotImplementedError

    def _call_kernel(
        self,
        key: tuple,
        params: list,
        grads: list,
        states: dict,
        steps: list,
        skip: bool,
    ) -> bool | None:
        raise NotImplementedError

    # -- implementation -------------------------------------------------------

    def _state_dtype_for(self, param: torch.Tensor) -> torch.dtype:
        if param.dtype in _LOW_PRECISION and self.state_dtype != "param":
            return torch.float32
        return param.dtype

    def _new_state(self, param: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        return torch.full(param.shape, fill, dtype=self._state_dtype_for(param))

    def _check_param(self, param: torch.Tensor, where: str) -> None:
        if param.device.type != "cpu":
            raise ValueError(
                f"{where}: {type(self).__name__} from fastrmsprop.torch supports "
                f"tensors on the cpu device only, got a tensor on {param.device}"
            )
        if param.dtype not in _SUPPORTED_DTYPES:
            raise TypeError(
                f"{where}: expected dtype float32, float64, bfloat16 or float16, "
                f"got {param.dtype}"
            )
        if self.state_dtype == "float32" and param.dtype == torch.float64:
            raise TypeError(
                f"{where}: state_dtype='float32' is for low-precision params; "
                "float64 params keep float64 state"
            )

    def _check_step_tensors(
        self, param: torch.Tensor, grad: torch.Tensor, where: str
    ) -> None:
        if param.device.type != "cpu" or param.dtype not in _SUPPORTED_DTYPES:
            self._check_param(param, where)
        self._check_grad(grad, where)
        if not param.is_contiguous():
            raise ValueError(
                f"{where}: param of shape {tuple(param.shape)} with strides "
                f"{param.stride()} is not contiguous; the kernel writes params in "
                "place and needs contiguous memory (make the tensor contiguous "
                "before creating the optimizer)"
            )

    def _check_grad(self, grad: torch.Tensor, where: str) -> None:
        if grad.layout != torch.strided:
            raise ValueError(
                f"{where}: {type(self).__name__} from fastrmsprop.torch does not "
                f"support sparse gradients (got layout {grad.layout})"
            )
        if grad.device.type != "cpu":
            raise ValueError(f"{where}: grad is on {grad.device}, param on cpu")

    def _view(self, param: torch.Tensor, name: str, tensor: torch.Tensor) -> Any:
        # Building a view costs a few microseconds per tensor, as much as the
        # kernel spends on a small param; a view is reused while the tensor's
        # memory, dtype, shape and strides are those it was made for (then the
        # view is one of the memory the tensor owns now).
        key = (id(param), name)
        layout = _layout(tensor)
        cached = self._views.get(key)
        if cached is not None and cached[0] == layout:
            return cached[1]
        view = _numpy_view(tensor)
        self._views[key] = (layout, view)
        return view

    def _collect(self, keys: list[tuple]) -> dict[tuple, list]:
        """Params with grads, grouped by kernel call, with state created."""
        calls: dict[tuple, list] = {}
        for i, (group, key) in enumerate(zip(self.param_groups, keys)):
            needed = self._needed_state(group)
            entries = None
            for j, param in enumerate(group["params"]):
                grad = param.grad
                if grad is None:
                    continue
                self._check_step_tensors(
                    param, grad, f"param_groups[{i}]['params'][{j}]"
                )
                param_state = self.state[param]
                if len(param_state) == 0:
                    self._init_state(group, param)
                for name in needed:
                    if name not in param_state:
                        param_state[name] = self._new_state(param)
                if entries is None:
                    entries = calls.setdefault(key, [])
                entries.append((group, param, param_state, (i, j)))
        return calls

    def _make_plan(self, keys: list[tuple], params: list, grads: list) -> _StepPlan:
        """Check the params with grads, create their state and view every tensor."""
        calls = self._collect(keys)
        groups = self.param_groups
        plan = _StepPlan()
        plan.state = self.state
        plan.state_dtype = self.state_dtype
        plan.partition = _partition(keys)
        plan.needed = [self._needed_state(group) for group in groups]
        plan.param_ids = list(map(id, params))
        plan.has_grad = [grad is not None for grad in grads]
        # Flat position of param j of group i, and position among the grads.
        offsets = [0]
        for group in groups:
            offsets.append(offsets[-1] + len(group["params"]))
        with_grad = [k for k, has_grad in enumerate(plan.has_grad) if has_grad]
        position = {k: n for n, k in enumerate(with_grad)}
        plan.sources = [None] * len(position)
        plan.grad_sources = [None] * len(position)
        plan.calls = []
        view = self._view
        for entries in calls.values():
            first_group = entries[0][3][0]
            call = _PlannedCall(first_group, entries, plan.needed[first_group])
            call.grads = tuple(position[offsets[i] + j] for *_, (i, j) in entries)
            call.steps = tuple(view(p, "step", s["step"]) for _, p, s, _ in entries)
            upcast = self.state_dtype == "param" and any(
                p.dtype in _LOW_PRECISION for _, p, _, _ in entries
            )
            if not upcast:
                call.params = tuple(view(p, "", p) for _, p, _, _ in entries)
                call.states = {
                    name: tuple(view(p, name, s[name]) for _, p, s, _ in entries)
                    for name in call.names
                }
            for n, (_, param, _, (i, j)) in zip(call.grads, entries):
                plan.sources[n] = (param, operator.itemgetter(*call.names, "step"))
                where = f"param_groups[{i}]['params'][{j}]"
                plan.grad_sources[n] = (where, not upcast)
            plan.calls.append(call)
        # numpy() has no bfloat16; those grads go through `_numpy_view`.
        plan.fast_grads = all(call.params is not None for call in plan.calls) and all(
            params[k].dtype is not torch.bfloat16 for k in with_grad
        )
        plan.layouts = _layouts(self._planned_tensors(plan))
        return plan

    def _planned_tensors(self, plan: _StepPlan) -> list | None:
        """Each param with a grad followed by its state tensors, as the state holds
        them now; None when some are gone."""
        tensors = []
        get_state = self.state.get
        for param, get_tensors in plan.sources:
            param_state = get_state(param)
            if param_state is None:
                return None
            tensors.append(param)
            try:
                tensors += get_tensors(param_state)
            except KeyError:
                return None
        return tensors

    def _plan_holds(
        self, plan: _StepPlan | None, keys: list, params: list, grads: list
    ) -> bool:
        """Whether the plan of an earlier step is the one this step would make."""
        if plan is None or plan.state is not self.state:
            return False
        if plan.state_dtype != self.state_dtype or plan.partition != _partition(keys):
            return False
        if plan.needed != [self._needed_state(group) for group in self.param_groups]:
            return False
        if plan.param_ids != list(map(id, params)):
            return False
        if plan.has_grad != [grad is not None for grad in grads]:
            return False
        tensors = self._planned_tensors(plan)
        return tensors is not None and _layouts(tensors) == plan.layouts

    def _grad_views(self, plan: _StepPlan, grads: list) -> list:
        """A NumPy view of every grad, None for those of `_run_upcast` calls."""
        if plan.fast_grads:
            # Grads are usually new tensors every step, so their views are made
            # anew; numpy() is the cheapest way, and it refuses exactly the grads
            # that need the checks and conversions below (sparse, not on the cpu,
            # requiring grad, with the negative bit set).
            try:
                return list(map(torch.Tensor.numpy, grads))
            except (TypeError, RuntimeError):
                pass
        views = []
        for (where, wanted), grad in zip(plan.grad_sources, grads):
            self._check_grad(grad, where)
            views.append(_numpy_view(grad) if wanted else None)
        return views

    def _update(self) -> None:
        groups = self.param_groups
        keys = [self._kernel_key(group) for group in groups]
        params = [param for group in groups for param in group["params"]]
        grads = [param.grad for param in params]
        plan = self._plan
        if not self._plan_holds(plan, keys, params, grads):
            plan = self._plan = self._make_plan(keys, params, grads)
        if not plan.calls:
            return
        grads = [grad for grad in grads if grad is not None]
        grad_views = self._grad_views(plan, grads)
        # One call can skip atomically by itself; several calls must agree first.
        skip_in_kernel = self.skip_nonfinite and len(plan.calls) == 1
        if self.skip_nonfinite and not skip_in_kernel:
            if not all(bool(torch.isfinite(g).all()) for g in grads):
                self.skipped_steps += 1
                logger.debug("skipped a step with a non-finite grad")
                return

        counters = []
        for call in plan.calls:
            applied = self._run_call(
                keys[call.group], call, grad_views, skip_in_kernel, counters
            )
            if applied is False:
                self.skipped_steps += 1
                logger.debug("skipped a step with a non-finite grad")
                return
        # As np.add(counter, 1, out=counter), bit for bit (the sum is exact in a
        # Python float and rounded once to the counter's dtype), at a tenth of the
        # cost on a 0-d array.
        for counter in counters:
            counter[()] = counter.item() + 1

    def _run_call(
        self,
        key: tuple,
        call: _PlannedCall,
        grad_views: list,
        skip: bool,
        counters: list,
    ) -> bool | None:
        """One kernel call; appends the NumPy views of the step counters it used."""
        # The step counters are 0-d tensors as in torch; reading and incrementing
        # them through views costs a NumPy operation each instead of a torch one.
        steps = [int(v) + 1 for v in call.steps]
        counters.extend(call.steps)
        try:
            if call.params is None:
                return self._run_upcast(key, call.entries, call.names, steps, skip)
            grads = [grad_views[n] for n in call.grads]
            return self._call_kernel(key, call.params, grads, call.states, steps, skip)
        except (TypeError, ValueError) as error:
            raise _locate(error, call.entries) from error

    def _run_upcast(
        self,
        key: tuple,
        entries: list,
        names: tuple[str, ...],
        steps: list[int],
        skip: bool,
    ) -> bool | None:
        # state_dtype="param" for low-precision params: the kernel computes with
        # float32 state only, so those params and their state go through float32
        # copies that are rounded back (to nearest even) after the call.
        upcast = [p.dtype in _LOW_PRECISION for _, p, _, _ in entries]

        def operand(tensor: torch.Tensor, is_upcast: bool) -> torch.Tensor:
            return tensor.float() if is_upcast else tensor

        params = [operand(p, u) for (_, p, _, _), u in zip(entries, upcast)]
        grads = [operand(p.grad, u) for (_, p, _, _), u in zip(entries, upcast)]
        states = {
            name: [operand(s[name], u) for (_, _, s, _), u in zip(entries, upcast)]
            for name in names
        }
        applied = self._call_kernel(
            key,
            [_numpy_view(t) for t in params],
            [_numpy_view(t) for t in grads],
            {name: [_numpy_view(t) for t in ts] for name, ts in states.items()},
            steps,
            skip,
        )
        if applied is False:
            return applied
        for index, ((_, param, param_state, _), is_upcast) in enumerate(
            zip(entries, upcast)
        ):
            if is_upcast:
                param.copy_(params[index])
                for name in names:
                    param_state[name].copy_(states[name][index])
        return applied


def _check_exclusive(foreach: bool | None, fused: bool | None) -> None:
    # Both flags have no effect here, but torch refuses the contradiction.
    if foreach and fused:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _check_nonnegative(**values: Any) -> None:
    # Messages follow torch.optim's so that user code matching them keeps working.
    labels = {
        "lr": "learning rate",
        "eps": "epsilon value",
        "momentum": "momentum value",
        "weight_decay": "weight_decay value",
        "alpha": "alpha value",
        "lr_decay": "lr_decay value",
        "initial_accumulator_value": "initial_accumulator_value value",
        "initial_square_avg": "initial_square_avg value",
    }
    for name, value in values.items():
        if isinstance(value, torch.Tensor) and value.numel() != 1:
            raise ValueError(f"Tensor {name} must be 1-element")
        if not 0.0 <= value:
            raise ValueError(f"Invalid {labels[name]}: {value}")


class RMSprop(_KernelOptimizer):
    r"""RMSprop with torch.optim.RMSprop's interface, run by the fused CPU kernel.

    Per element, with α = `alpha`, γ = `lr`, λ = `weight_decay`, μ = `momentum`:

        g = -g if maximize;  g = g + λ·θ (coupled weight decay)
        v = α·v + (1-α)·g²                      state "square_avg"
        centered: m̄ = α·m̄ + (1-α)·g; q = max(v - m̄², 0)   state "grad_avg"
        otherwise q = v
        u = g / (sqrt(q) + ε)
        μ = 0: θ = θ - γ·u;  μ > 0: b = μ·b + u; θ = θ - γ·b   "momentum_buffer"

    Arguments up to `differentiable` are torch's, with the same meaning and
    defaults (None takes the preset's value; the default preset "torch" gives
    lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0). `foreach` and `capturable` are
    accepted and ignored; `differentiable=True` is refused.

    Extra keyword arguments (see the specification of RMSProp):
        eps_in_sqrt: D = sqrt(q + ε) instead of sqrt(q) + ε (TensorFlow, Keras).
        lr_in_momentum: b = μ·b + γ·u; θ = θ - b (TensorFlow, Keras, optax).
        decoupled_weight_decay: θ = θ·(1 - γ·λ) instead of g + λ·θ.
        nesterov: step along u + μ·b instead of b (needs momentum > 0).
        initial_square_avg: the initial value of "square_avg" (1.0 in TF1).
        preset: "torch", "tf1", "keras" or "optax" (fastrmsprop.presets); fills
            every argument left at None.
        skip_nonfinite: a step with a NaN or ±inf grad changes nothing and is
            counted in `skipped_steps`.
        state_dtype: for bfloat16/float16 params, None or "float32" keeps the
            state in float32; "param" keeps it in the param's dtype, through
            float32 copies (slower, see docs/torch.md).
    """

    _state_names = ("square_avg", "momentum_buffer", "grad_avg")
    _extra_group_keys = (
        "eps_in_sqrt",
        "lr_in_momentum",
        "decoupled_weight_decay",
        "nesterov",
        "initial_square_avg",
    )

    def __init__(
        self,
        params: Any,
        lr: float | torch.Tensor | None = None,
        alpha: float | None = None,
        eps: float | None = None,
        weight_decay: float | None = None,
        momentum: float | None = None,
        centered: bool | None = None,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool | None = None,
        differentiable: bool = False,
        *,
        eps_in_sqrt: bool | None = None,
        lr_in_momentum: bool | None = None,
        decoupled_weight_decay: bool | None = None,
        nesterov: bool | None = None,
        initial_square_avg: float | None = None,
        preset: str = "torch",
        skip_nonfinite: bool = False,
        state_dtype: str | None = None,
    ) -> None:
        if isinstance(lr, torch.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        given = {
            "lr": _scalar(lr) if isinstance(lr, torch.Tensor) else lr,
            "beta": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
            "eps_in_sqrt": eps_in_sqrt,
            "lr_in_momentum": lr_in_momentum,
            "decoupled_weight_decay": decoupled_weight_decay,
            "nesterov": nesterov,
            "initial_square_avg": initial_square_avg,
        }
        hyper = _presets.resolve(
            preset, **{k: v for k, v in given.items() if v is not None}
        )
        if isinstance(lr, torch.Tensor):
            hyper["lr"] = lr
        _check_nonnegative(
            lr=hyper["lr"],
            eps=hyper["eps"],
            momentum=hyper["momentum"],
            weight_decay=hyper["weight_decay"],
            alpha=hyper["beta"],
            initial_square_avg=hyper["initial_square_avg"],
        )
        if hyper["nesterov"] and not hyper["momentum"] > 0:
            raise ValueError("nesterov=True requires momentum > 0")
        self.preset = preset
        defaults = {
            "lr": hyper["lr"],
            "momentum": hyper["momentum"],
            "alpha": hyper["beta"],
            "eps": hyper["eps"],
            "centered": bool(hyper["centered"]),
            "weight_decay": hyper["weight_decay"],
            "capturable": capturable,
            "foreach": foreach,
            "maximize": bool(hyper["maximize"]),
            "differentiable": differentiable,
            "eps_in_sqrt": bool(hyper["eps_in_sqrt"]),
            "lr_in_momentum": bool(hyper["lr_in_momentum"]),
            "decoupled_weight_decay": bool(hyper["decoupled_weight_decay"]),
            "nesterov": bool(hyper["nesterov"]),
            "initial_square_avg": float(hyper["initial_square_avg"]),
        }
        super().__init__(
            params, defaults, skip_nonfinite=skip_nonfinite, state_dtype=state_dtype
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("maximize", False)

    def _needed_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        names = ("square_avg",)
        if group["momentum"] > 0:
            names += ("momentum_buffer",)
        if group["centered"]:
            names += ("grad_avg",)
        return names

    def _init_state(self, group: dict[str, Any], param: torch.Tensor) -> None:
        param_state = self.state[param]
        param_state["step"] = torch.zeros((), dtype=_step_dtype(group))
        param_state["square_avg"] = self._new_state(
            param, group.get("initial_square_avg", 0.0)
        )
        if group["momentum"] > 0:
            param_state["momentum_buffer"] = self._new_state(param)
        if group["centered"]:
            param_state["grad_avg"] = self._new_state(param)

    def _kernel_key(self, group: dict[str, Any]) -> tuple:
        return (
            _scalar(group["lr"]),
            float(group["alpha"]),
            float(group["eps"]),
            float(group["weight_decay"]),
            float(group["momentum"]),
            bool(group["centered"]),
            bool(group["maximize"]),
            bool(group.get("eps_in_sqrt", False)),
            bool(group.get("lr_in_momentum", False)),
            bool(group.get("decoupled_weight_decay", False)),
            bool(group.get("nesterov", False)),
        )

    def _call_kernel(
        self,
        key: tuple,
        params: list,
        grads: list,
        states: dict,
        steps: list,
        skip: bool,
    ) -> bool | None:
        (lr, alpha, eps, weight_decay, momentum, centered, maximize) = key[:7]
        (eps_in_sqrt, lr_in_momentum, decoupled, nesterov) = key[7:]
        return fastrmsprop.rmsprop_step(
            params,
            grads,
            states["square_avg"],
            lr=lr,
            beta=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            momentum_buffers=states.get("momentum_buffer"),
            centered=centered,
            grad_avgs=states.get("grad_avg"),
            maximize=maximize,
            eps_in_sqrt=eps_in_sqrt,
            lr_in_momentum=lr_in_momentum,
            decoupled_weight_decay=decoupled,
            nesterov=nesterov,
            skip_nonfinite=skip,
        )


class Adagrad(_KernelOptimizer):
    r"""Adagrad with torch.optim.Adagrad's interface, run by the fused CPU kernel.

    Per element, at step t (per param, from 1):

        γₜ = lr / (1 + (t-1)·lr_decay)
        g = -g if maximize;  g = g + λ·θ
        s = s + g²                               state "sum"
        θ = θ - γₜ·g / (sqrt(s) + ε)

    Arguments are torch's, with its defaults; `foreach` and `fused` are accepted
    and ignored, `differentiable=True` is refused, sparse grads are refused. As in
    torch, the state ("step" and "sum") is created in the constructor.

    Extra keyword arguments: `eps_in_sqrt` (D = sqrt(s + ε)), `skip_nonfinite` and
    `state_dtype` as in :class:`RMSprop`.
    """

    _state_names = ("sum",)
    _extra_group_keys = ("eps_in_sqrt",)

    def __init__(
        self,
        params: Any,
        lr: float | torch.Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        eps_in_sqrt: bool = False,
        skip_nonfinite: bool = False,
        state_dtype: str | None = None,
    ) -> None:
        _check_exclusive(foreach, fused)
        _check_nonnegative(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
            "eps_in_sqrt": bool(eps_in_sqrt),
        }
        super().__init__(
            params, defaults, skip_nonfinite=skip_nonfinite, state_dtype=state_dtype
        )
        for group in self.param_groups:
            for param in group["params"]:
                self._init_state(group, param)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("maximize", False)

    def _needed_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("sum",)

    def _init_state(self, group: dict[str, Any], param: torch.Tensor) -> None:
        # torch fills "sum" from the constructor's value, not the group's.
        param_state = self.state[param]
        param_state["step"] = torch.tensor(0.0, dtype=_step_dtype(group))
        param_state["sum"] = self._new_state(
            param, float(self.defaults["initial_accumulator_value"])
        )

    def _kernel_key(self, group: dict[str, Any]) -> tuple:
        return (
            _scalar(group["lr"]),
            float(group["lr_decay"]),
            float(group["weight_decay"]),
            float(group["eps"]),
            bool(group["maximize"]),
            bool(group.get("eps_in_sqrt", False)),
        )

    def _call_kernel(
        self,
        key: tuple,
        params: list,
        grads: list,
        states: dict,
        steps: list,
        skip: bool,
    ) -> bool | None:
        lr, lr_decay, weight_decay, eps, maximize, eps_in_sqrt = key
        return fastrmsprop.adagrad_step(
            params,
            grads,
            states["sum"],
            lr=lr,
            steps=steps,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            eps=eps,
            maximize=maximize,
            eps_in_sqrt=eps_in_sqrt,
            skip_nonfinite=skip,
        )


class Adam(_KernelOptimizer):
    r"""Adam with torch.optim.Adam's interface, run by the fused CPU kernel.

    Per element, at step t (per param, from 1), c₁ = 1-β₁ᵗ, c₂ = 1-β₂ᵗ:

        g = -g if maximize
        λ ≠ 0: g = g + λ·θ, or θ = θ·(1 - γ·λ) if decoupled_weight_decay
        m = β₁·m + (1-β₁)·g                      state "exp_avg"
        v = β₂·v + (1-β₂)·g²                     state "exp_avg_sq"
        amsgrad: v̂ = max(v̂, v) replaces v below  state "max_exp_avg_sq"
        θ = θ - (γ/c₁)·m / (sqrt(v)/sqrt(c₂) + ε)

    Arguments are torch's, with its defaults; lr and betas may be one-element
    tensors, read at every step; `foreach`, `fused` and `capturable` are accepted
    and ignored, `differentiable=True` is refused. Extra keyword arguments:
    `skip_nonfinite` and `state_dtype` as in :class:`RMSprop`.
    """

    _state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(
        self,
        params: Any,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float | torch.Tensor, float | torch.Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
        skip_nonfinite: bool = False,
        state_dtype: str | None = None,
    ) -> None:
        _check_exclusive(foreach, fused)
        _check_nonnegative(lr=lr, eps=eps, weight_decay=weight_decay)
        betas = tuple(betas)
        for index, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
        is_tensor = [isinstance(beta, torch.Tensor) for beta in betas]
        if any(is_tensor) and not all(is_tensor):
            raise ValueError("betas must be either both floats or both Tensors")
        for index, beta in enumerate(betas):
            if is_tensor[index] and beta.numel() != 1:
                raise ValueError(f"Tensor betas[{index}] must be 1-element")
        # As in torch, tensor betas stay tensors (0-d views of the ones given), so
        # that changing them in place changes the next step.
        betas = tuple(
            beta.squeeze() if isinstance(beta, torch.Tensor) else beta for beta in betas
        )
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(
            params, defaults, skip_nonfinite=skip_nonfinite, state_dtype=state_dtype
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("decoupled_weight_decay", False)

    def _needed_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        if group["amsgrad"]:
            return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        return ("exp_avg", "exp_avg_sq")

    def _init_state(self, group: dict[str, Any], param: torch.Tensor) -> None:
        param_state = self.state[param]
        param_state["step"] = torch.tensor(0.0, dtype=_step_dtype(group))
        param_state["exp_avg"] = self._new_state(param)
        param_state["exp_avg_sq"] = self._new_state(param)
        if group["amsgrad"]:
            param_state["max_exp_avg_sq"] = self._new_state(param)

    def _kernel_key(self, group: dict[str, Any]) -> tuple:
        beta1, beta2 = group["betas"]
        return (
            _scalar(group["lr"]),
            _scalar(beta1),
            _scalar(beta2),
            float(group["eps"]),
            float(group["weight_decay"]),
            bool(group["decoupled_weight_decay"]),
            bool(group["amsgrad"]),
            bool(group["maximize"]),
        )

    def _call_kernel(
        self,
        key: tuple,
        params: list,
        grads: list,
        states: dict,
        steps: list,
        skip: bool,
    ) -> bool | None:
        lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize = key
        return fastrmsprop.adam_step(
            params,
            grads,
            states["exp_avg"],
            states["exp_avg_sq"],
            lr=lr,
            steps=steps,
            betas=(beta1, beta2),
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled,
            amsgrad=amsgrad,
            max_exp_avg_sqs=states.get("max_exp_avg_sq"),
            maximize=maximize,
            skip_nonfinite=skip,
        )


class AdamW(Adam):
    r"""AdamW with torch.optim.AdamW's interface: :class:`Adam` whose weight decay
    is decoupled, θ = θ·(1 - γ·λ), with default λ = `weight_decay` = 1e-2.
    """

    def __init__(
        self,
        params: Any,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float | torch.Tensor, float | torch.Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        skip_nonfinite: bool = False,
        state_dtype: str | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
            skip_nonfinite=skip_nonfinite,
            state_dtype=state_dtype,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
