# Type stubs of the compiled module; the public, documented API is in the package.
from collections.abc import Sequence
from typing import Any

chunk_elements: int
min_elements_per_thread: int

def rmsprop_step(
    params: Any,
    grads: Any,
    square_avgs: Any,
    grad_avgs: Any,
    momentum_buffers: Any,
    lr: float,
    beta: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
    eps_in_sqrt: bool,
    lr_in_momentum: bool,
    decoupled_weight_decay: bool,
    nesterov: bool,
    skip_nonfinite: bool,
) -> bool: ...
def adagrad_step(
    params: Any,
    grads: Any,
    sums: Any,
    steps: int | Sequence[int],
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
    eps_in_sqrt: bool,
    skip_nonfinite: bool,
) -> bool: ...
def adam_step(
    params: Any,
    grads: Any,
    exp_avgs: Any,
    exp_avg_sqs: Any,
    max_exp_avg_sqs: Any,
    steps: int | Sequence[int],
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled_weight_decay: bool,
    amsgrad: bool,
    maximize: bool,
    skip_nonfinite: bool,
) -> bool: ...
def simd_level() -> str: ...
def available_simd_levels() -> list[str]: ...
def compiled_simd_levels() -> list[str]: ...
def set_simd_level(name: str) -> None: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def has_openmp() -> bool: ...
def compiler() -> str: ...
def _partition(
    sizes: Sequence[int], threads: int
) -> list[list[tuple[int, int, int]]]: ...
def bandwidth_probe(*args: Any, **kwargs: Any) -> Any: ...
