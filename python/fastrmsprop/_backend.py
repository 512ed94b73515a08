"""Which implementation runs the steps: the compiled kernels or the NumPy reference.

``FASTRMSPROP_BACKEND=numpy`` forces the reference; ``FASTRMSPROP_SIMD=<level>`` forces
an instruction set the CPU has. If the extension cannot be imported the package still
works on the reference and says once, at import, how to build the extension.
"""

from __future__ import annotations

import logging
import os
import warnings
from types import ModuleType

logger = logging.getLogger(__name__)

BUILD_HINT = (
    "build it with `pip install .` in a source checkout (needs a C++17 compiler; "
    "CMake, pybind11 and scikit-build-core are fetched by pip)"
)


def _load() -> tuple[ModuleType | None, str | None]:
    choice = os.environ.get("FASTRMSPROP_BACKEND", "").strip().lower()
    if choice not in ("", "cpp", "numpy"):
        raise ValueError(
            f"FASTRMSPROP_BACKEND: expected 'cpp' or 'numpy', got {choice!r}"
        )
    if choice == "numpy":
        return None, "forced by FASTRMSPROP_BACKEND=numpy"
    try:
        from . import _core
    except ImportError as error:
        if choice == "cpp":
            raise ImportError(
                f"FASTRMSPROP_BACKEND=cpp, but fastrmsprop._core cannot be imported "
                f"({error}); {BUILD_HINT}"
            ) from error
        warnings.warn(
            f"fastrmsprop: the compiled kernels cannot be imported ({error}); using "
            f"the NumPy reference, which is several times slower. To fix it, "
            f"{BUILD_HINT}.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None, str(error)
    level = os.environ.get("FASTRMSPROP_SIMD", "").strip().lower()
    if level:
        try:
            _core.set_simd_level(level)
        except ValueError as error:
            raise ValueError(f"FASTRMSPROP_SIMD={level}: {error}") from None
    logger.debug(
        "fastrmsprop kernels: simd %s, %d threads",
        _core.simd_level(),
        _core.get_num_threads(),
    )
    return _core, None


core, unavailable_reason = _load()
