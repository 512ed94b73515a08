"""Argument checks shared by the NumPy reference and the Python front end.

Every check runs before anything is written, so a failed call leaves every array as
it was. A failure raises ``TypeError`` (wrong type or dtype) or ``ValueError`` (shape,
layout, overlap, value) whose message starts with the argument name, for example
``"square_avgs[3]: expected dtype float32, got float64"``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # NumPy < 2
    from numpy import byte_bounds

#: State dtype for each supported param dtype: mixed precision keeps its state (and
#: does its math) in float32.
STATE_DTYPES: dict[np.dtype, np.dtype] = {
    np.dtype(np.float32): np.dtype(np.float32),
    np.dtype(np.float64): np.dtype(np.float64),
    np.dtype(np.float16): np.dtype(np.float32),
}

try:
    import ml_dtypes
except ImportError:
    pass  # bfloat16 arrays cannot exist without ml_dtypes, so none need a check
else:
    STATE_DTYPES[np.dtype(ml_dtypes.bfloat16)] = np.dtype(np.float32)


def number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a Python float after checking it is finite and in range.

    The range is ``low <= value <= high`` (``value < high`` if ``high_open``). A
    Python float is returned so that NumPy treats the hyperparameter as a weak scalar:
    it takes the math dtype of the arrays instead of promoting them to float64.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    result = float(value)
    in_range = math.isfinite(result)
    if in_range and low is not None:
        in_range = result >= low
    if in_range and high is not None:
        in_range = result < high if high_open else result <= high
    if not in_range:
        raise ValueError(
            f"{name}: expected {_range_text(low, high, high_open)}, got {value!r}"
        )
    return result


def _range_text(low: float | None, high: float | None, high_open: bool) -> str:
    if low is not None and high is not None:
        closing = ")" if high_open else "]"
        return f"a finite number in [{low:g}, {high:g}{closing}"
    if low is not None:
        return f"a finite number >= {low:g}"
    return "a finite number"


def betas(value: Any, name: str = "betas") -> tuple[float, float]:
    """Return Adam's ``(beta1, beta2)``, each in ``[0, 1)``.

    ``beta = 1`` is excluded because the bias correction ``1 - beta**t`` is then 0.
    """
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name}: expected a pair of numbers, got {value!r}")
    beta1 = number(value[0], f"{name}[0]", low=0.0, high=1.0, high_open=True)
    beta2 = number(value[1], f"{name}[1]", low=0.0, high=1.0, high_open=True)
    return beta1, beta2


def steps(value: Any, count: int, single: bool, name: str = "steps") -> list[int]:
    """Return the 1-based step number of this update for each of ``count`` params.

    ``value`` is one int for all params or, for a param list, a sequence of ints.
    """
    if isinstance(value, (tuple, list)):
        if single:
            got = type(value).__name__
            raise TypeError(f"{name}: expected an int for a single param, got {got}")
        if len(value) != count:
            raise ValueError(
                f"{name}: expected {count} step numbers to match params, "
                f"got {len(value)}"
            )
        return [_step(v, f"{name}[{i}]") for i, v in enumerate(value)]
    return [_step(value, name)] * count


def _step(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name}: expected a step number >= 1, got {value!r}")
    return int(value)


def required(value: Any, name: str, reason: str) -> Any:
    """Return ``value``, raising ``ValueError`` if it is None although ``reason``."""
    if value is None:
        raise ValueError(f"{name}: required when {reason}")
    return value


@dataclass
class StepArrays:
    """The arrays of one step call, as lists matched by position."""

    params: list[np.ndarray]
    grads: list[np.ndarray]
    states: dict[str, list[np.ndarray]]
    single: bool


def step_arrays(params: Any, grads: Any, states: dict[str, Any]) -> StepArrays:
    """Check the arrays of one step call and return them as lists.

    ``states`` maps each state argument name (``"square_avgs"``, ...) to its value.
    Params and state arrays are written: they must be C-contiguous, writable and of
    the state dtype of their param; no written array may overlap any other argument.
    """
    single = isinstance(params, np.ndarray)
    param_list = _as_list(params, "params", single, None)
    count = len(param_list)
    grad_list = _as_list(grads, "grads", single, count)
    state_lists = {key: _as_list(v, key, single, count) for key, v in states.items()}

    for i, param in enumerate(param_list):
        pname = _item("params", i, single)
        _check_param(param, pname)
        state_dtype = STATE_DTYPES[param.dtype]
        _check_like(grad_list[i], _item("grads", i, single), param, param.dtype)
        for key, arrays in state_lists.items():
            sname = _item(key, i, single)
            _check_like(arrays[i], sname, param, state_dtype)
            _check_writable(arrays[i], sname)

    written = [(_item("params", i, single), a) for i, a in enumerate(param_list)]
    for key, arrays in state_lists.items():
        written += [(_item(key, i, single), a) for i, a in enumerate(arrays)]
    read = [(_item("grads", i, single), a) for i, a in enumerate(grad_list)]
    _check_overlap(written, read)
    return StepArrays(param_list, grad_list, state_lists, single)


def all_finite(arrays: list[np.ndarray]) -> bool:
    """Whether no array holds a NaN or an infinity."""
    return all(bool(np.isfinite(array).all()) for array in arrays)


def _item(name: str, index: int, single: bool) -> str:
    return name if single else f"{name}[{index}]"


def _as_list(value: Any, name: str, single: bool, count: int | None) -> list:
    if single:
        if not isinstance(value, np.ndarray):
            raise TypeError(
                f"{name}: expected a numpy.ndarray like params, got "
                f"{type(value).__name__}"
            )
        return [value]
    if not isinstance(value, (list, tuple)):
        expected = (
            "a list or tuple of arrays like params"
            if count is not None
            else ("a numpy.ndarray or a list of them")
        )
        raise TypeError(f"{name}: expected {expected}, got {type(value).__name__}")
    if count is not None and len(value) != count:
        raise ValueError(
            f"{name}: expected {count} arrays to match params, got {len(value)}"
        )
    for i, item in enumerate(value):
        if not isinstance(item, np.ndarray):
            raise TypeError(
                f"{name}[{i}]: expected a numpy.ndarray, got {type(item).__name__}"
            )
    return list(value)


def _check_param(param: np.ndarray, name: str) -> None:
    if not param.dtype.isnative:
        raise TypeError(
            f"{name}: expected native byte order, got dtype {param.dtype.str}"
        )
    if param.dtype not in STATE_DTYPES:
        supported = "float32, float64, float16 or bfloat16"
        raise TypeError(f"{name}: expected dtype {supported}, got {param.dtype}")
    _check_writable(param, name)


def _check_like(array: np.ndarray, name: str, param: np.ndarray, dtype: np.dtype):
    if array.dtype != dtype or not array.dtype.isnative:
        got = array.dtype if array.dtype.isnative else array.dtype.str
        raise TypeError(f"{name}: expected dtype {dtype}, got {got}")
    if array.shape != param.shape:
        raise ValueError(
            f"{name}: expected shape {param.shape} like its param, got {array.shape}"
        )


def _check_writable(array: np.ndarray, name: str) -> None:
    if not array.flags.c_contiguous:
        raise ValueError(
            f"{name}: expected a C-contiguous array (it is written in place)"
        )
    if not array.flags.writeable:
        raise ValueError(f"{name}: expected a writable array (it is written in place)")
    if not array.flags.aligned:
        raise ValueError(f"{name}: expected an array aligned to its dtype")


def _check_overlap(
    written: list[tuple[str, np.ndarray]], read: list[tuple[str, np.ndarray]]
) -> None:
    """Raise if a written array overlaps any other argument.

    Candidates come from a sweep over byte extents sorted by start address, so the
    usual case (no overlap) costs O(n log n); each candidate pair is then confirmed
    exactly, because a strided grad may interleave with an array without touching it.
    """
    entries = [(order, name, a, True) for order, (name, a) in enumerate(written)]
    entries += [(len(written) + k, name, a, False) for k, (name, a) in enumerate(read)]
    spans = []
    for order, name, array, is_written in entries:
        if array.size:
            low, high = byte_bounds(array)
            spans.append((low, high, order, name, array, is_written))
    spans.sort(key=lambda span: span[:3])
    for i, (_, high, order, name, array, is_written) in enumerate(spans):
        for j in range(i + 1, len(spans)):
            low2, _, order2, name2, array2, is_written2 = spans[j]
            if low2 >= high:
                break
            if not (is_written or is_written2):
                continue
            if np.shares_memory(array, array2):
                # Name the written array first; of two written ones, the later.
                first, second = sorted(
                    [(is_written, order, name), (is_written2, order2, name2)]
                )
                raise ValueError(f"{second[2]}: overlaps {first[2]} in memory")
