"""fastrmsprop: fused, multi-threaded CPU kernels for RMSProp, Adagrad and Adam.

The functions (``rmsprop_step``, ``adagrad_step``, ``adam_step``, ``adamw_step``)
update a whole list of NumPy arrays in one call; the classes (``RMSProp``,
``Adagrad``, ``Adam``, ``AdamW``) own their state. ``fastrmsprop.reference`` holds the
NumPy definition of every update, ``fastrmsprop.schedules`` the learning-rate
schedules, ``fastrmsprop.presets`` the RMSProp conventions of other frameworks and
``fastrmsprop.torch`` (imported on demand) the ``torch.optim`` drop-ins.
"""

from __future__ import annotations

from typing import Any

from . import presets, reference, schedules
from ._backend import core as _core_module
from ._backend import unavailable_reason as _unavailable_reason
from .functional import adagrad_step, adam_step, adamw_step, rmsprop_step
from .optim import Adagrad, Adam, AdamW, RMSProp

__version__ = "0.1.0"

__all__ = [
    "Adagrad",
    "Adam",
    "AdamW",
    "RMSProp",
    "adagrad_step",
    "adam_step",
    "adamw_step",
    "available_simd_levels",
    "backend",
    "build_info",
    "get_num_threads",
    "presets",
    "reference",
    "rmsprop_step",
    "schedules",
    "set_num_threads",
    "set_simd_level",
    "simd_level",
]


def backend() -> str:
    """'cpp' when the compiled kernels run the steps, 'numpy' for the reference."""
    return "numpy" if _core_module is None else "cpp"


def simd_level() -> str:
    """The instruction set the kernels use: 'scalar', 'avx2' or 'avx512'.

    'numpy' when the reference backend is in use.
    """
    return "numpy" if _core_module is None else _core_module.simd_level()


def available_simd_levels() -> list[str]:
    """Instruction sets this build has and this CPU runs, lowest first."""
    return [] if _core_module is None else list(_core_module.available_simd_levels())


def set_simd_level(name: str) -> None:
    """Force the kernels onto one of :func:`available_simd_levels` (for tests and
    benchmarks; the default is the best one). ``ValueError`` for any other name."""
    if _core_module is None:
        raise RuntimeError("set_simd_level: the compiled kernels are not in use")
    _core_module.set_simd_level(str(name))


def get_num_threads() -> int:
    """Threads one optimizer call may use (1 for the reference backend)."""
    return 1 if _core_module is None else _core_module.get_num_threads()


def set_num_threads(n: int) -> None:
    """Set the threads one optimizer call may use; ``ValueError`` if ``n < 1``.

    The result does not depend on it: every thread count gives bitwise the same
    params. Small calls stay on one thread whatever the setting. Without OpenMP in
    the build the count stays 1.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n: expected an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n: expected a thread count >= 1, got {n}")
    if _core_module is not None:
        _core_module.set_num_threads(n)


def build_info() -> dict[str, Any]:
    """How this installation was built and what it runs on."""
    if _core_module is None:
        return {"backend": "numpy", "reason": _unavailable_reason}
    return {
        "backend": "cpp",
        "compiler": _core_module.compiler(),
        "openmp": _core_module.has_openmp(),
        "compiled_simd_levels": list(_core_module.compiled_simd_levels()),
        "available_simd_levels": available_simd_levels(),
        "simd_level": simd_level(),
        "num_threads": get_num_threads(),
    }
