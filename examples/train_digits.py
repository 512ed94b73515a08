"""Train a one-million-parameter MLP on scikit-learn's handwritten digits.

The model is 64 -> hidden -> hidden -> 10 with ReLU and softmax cross-entropy; its
forward and backward passes are written in NumPy, in float32. Every minibatch ends in
one ``.step(grads)`` of a fastrmsprop optimizer over all weights and biases. Alongside
the optimizer, the NumPy reference (``fastrmsprop.reference``) performs the same steps
on copies of the same parameters and state, so that the run reports both the median
optimizer-step time of the compiled kernel against the reference and the largest
difference between their results.

Run with ``python examples/train_digits.py`` (needs scikit-learn); ``--help`` lists the
options.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import statistics
import time
from collections.abc import Callable

import numpy as np

import fastrmsprop
import fastrmsprop.presets
import fastrmsprop.reference

OPTIMIZERS = {
    "rmsprop": (fastrmsprop.RMSProp, fastrmsprop.reference.rmsprop_step),
    "adagrad": (fastrmsprop.Adagrad, fastrmsprop.reference.adagrad_step),
    "adam": (fastrmsprop.Adam, fastrmsprop.reference.adam_step),
    "adamw": (fastrmsprop.AdamW, fastrmsprop.reference.adamw_step),
}

# Chosen for this model rather than taken from the optimizers' own defaults: torch's
# RMSProp default of 1e-2 makes a network this wide diverge in its first steps.
DEFAULT_LR = {"rmsprop": 1e-3, "adagrad": 1e-2, "adam": 1e-3, "adamw": 1e-3}

# Positional state arguments of each reference function, by public state name; the
# optional ones (momentum, centering, AMSGrad) are passed by keyword when present.
REFERENCE_STATE_ARGS = {
    "rmsprop": ["square_avg"],
    "adagrad": ["sum"],
    "adam": ["exp_avg", "exp_avg_sq"],
    "adamw": ["exp_avg", "exp_avg_sq"],
}
REFERENCE_STATE_KEYWORDS = {
    "momentum_buffer": "momentum_buffers",
    "grad_avg": "grad_avgs",
    "max_exp_avg_sq": "max_exp_avg_sqs",
}

# Hyperparameters that only set the starting state, which the shadow copies.
INITIAL_VALUES = ("initial_square_avg", "initial_accumulator_value")

# The held-out set is the same for every seed so that runs compare with each other.
SPLIT_SEED = 0
HELDOUT_FRACTION = 0.2
ACCURACY_TARGET = 0.95


@dataclasses.dataclass
class TrainConfig:
    """Everything that determines a run; the fields mirror the command-line options."""

    optimizer: str = "rmsprop"
    epochs: int = 20
    batch_size: int = 64
    lr: float | None = None  # None: DEFAULT_LR[optimizer]
    hidden: int = 1024
    seed: int = 0
    preset: str | None = None  # RMSProp only; None: the package default
    threads: int | None = None  # optimizer kernel threads; None: leave as it is
    # NumPy's OpenBLAS keeps its worker threads spinning for a while after each
    # matrix product, so a multi-threaded optimizer step that starts right after the
    # backward pass shares the cores with them and waits for its descheduled thread
    # (on 2 cores: 3.7 ms per step instead of 0.54 ms). One BLAS thread leaves the
    # cores to the step and costs this small MLP's products little. None: unchanged.
    blas_threads: int | None = 1
    # Run the reference on every n-th step (0: never); every step by default so that
    # both medians come from the same steps.
    reference_every: int = 1


@dataclasses.dataclass
class EpochLog:
    epoch: int
    train_loss: float  # mean minibatch loss, each taken before its step
    heldout_accuracy: float
    step_seconds: float  # wall time inside optimizer.step over the epoch
    steps: int


@dataclasses.dataclass
class TrainResult:
    config: TrainConfig
    lr: float
    n_params: int
    backend: str
    initial_loss: float  # full training-set loss before the first step
    epochs: list[EpochLog]
    # Per-step wall times of the same steps, in seconds.
    kernel_step_seconds: list[float]
    reference_step_seconds: list[float]
    # Largest |optimizer - reference| over every parameter and state array after each
    # compared step, both starting from the same values.
    max_abs_diff: float

    @property
    def final_accuracy(self) -> float:
        return self.epochs[-1].heldout_accuracy if self.epochs else float("nan")

    @property
    def kernel_median(self) -> float:
        return statistics.median(self.kernel_step_seconds)

    @property
    def reference_median(self) -> float:
        return statistics.median(self.reference_step_seconds)

    @property
    def speedup(self) -> float:
        """Median reference step time divided by median optimizer step time."""
        return self.reference_median / self.kernel_median


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``x_train, y_train, x_heldout, y_heldout``: 8x8 images scaled to [0, 1].

    The split is stratified by class and fixed by ``SPLIT_SEED``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_heldout, y_train, y_heldout = train_test_split(
        x,
        y,
        test_size=HELDOUT_FRACTION,
        stratify=y,
        random_state=SPLIT_SEED,
    )
    return x_train, y_train, x_heldout, y_heldout


def init_params(
    sizes: list[int], rng: np.random.Generator, dtype=np.float32
) -> list[np.ndarray]:
    """He-initialised weights and zero biases: ``[W1, b1, W2, b2, ...]``.

    W_k ~ N(0, 2/fan_in) for layers followed by ReLU, N(0, 1/fan_in) for the output
    layer; W_k has shape (fan_in, fan_out) so that a layer is ``x @ W_k + b_k``.
    """
    params = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        gain = 1.0 if k == len(sizes) - 2 else 2.0
        std = np.sqrt(gain / fan_in)
        params.append((rng.standard_normal((fan_in, fan_out)) * std).astype(dtype))
        params.append(np.zeros(fan_out, dtype=dtype))
    return params


def forward(params: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """Activations ``[x, h_1, ..., logits]`` with h_k = relu(h_{k-1} @ W_k + b_k).

    The last layer has no ReLU: logits = h_{L-1} @ W_L + b_L.
    """
    activations = [x]
    n_layers = len(params) // 2
    for k in range(n_layers):
        z = activations[-1] @ params[2 * k] + params[2 * k + 1]
        if k < n_layers - 1:
            np.maximum(z, 0, out=z)
        activations.append(z)
    return activations


def softmax_cross_entropy(
    logits: np.ndarray, labels: np.ndarray
) -> tuple[float, np.ndarray]:
    """Mean loss and its gradient with respect to the logits.

    loss = mean_i(logsumexp(z_i) - z_i[y_i])
    dloss/dz_i = (softmax(z_i) - e_{y_i}) / n
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    loss = float(np.mean(np.log(sum_exp[:, 0]) - shifted[rows, labels]))
    dlogits = exp / sum_exp
    dlogits[rows, labels] -= 1
    dlogits /= len(labels)
    return loss, dlogits


def backward(
    params: list[np.ndarray], activations: list[np.ndarray], dlogits: np.ndarray
) -> list[np.ndarray]:
    """Gradients ``[dW1, db1, ...]`` in the order of ``params``, by backpropagation.

    dW_k = h_{k-1}^T @ d_k;  db_k = sum_i d_k;  d_{k-1} = (d_k @ W_k^T) * [h_{k-1} > 0].
    """
    n_layers = len(params) // 2
    grads: list[np.ndarray] = [None] * len(params)  # type: ignore[list-item]
    delta = dlogits
    for k in reversed(range(n_layers)):
        h_in = activations[k]
        grads[2 * k] = h_in.T @ delta
        grads[2 * k + 1] = delta.sum(axis=0)
        if k > 0:
            # The ReLU mask is read from the stored output: h > 0 exactly where z > 0.
            delta = (delta @ params[2 * k].T) * (h_in > 0)
    return grads


def loss_and_grads(
    params: list[np.ndarray], x: np.ndarray, labels: np.ndarray
) -> tuple[float, list[np.ndarray]]:
    """Softmax cross-entropy of the MLP on ``(x, labels)`` and its gradients."""
    activations = forward(params, x)
    loss, dlogits = softmax_cross_entropy(activations[-1], labels)
    return loss, backward(params, activations, dlogits)


def accuracy(params: list[np.ndarray], x: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose largest logit is at the true label."""
    return float(np.mean(forward(params, x)[-1].argmax(axis=1) == labels))


def make_optimizer(config: TrainConfig, params: list[np.ndarray], lr: float):
    """Build the optimizer named by ``config.optimizer`` over ``params``."""
    cls, _ = OPTIMIZERS[config.optimizer]
    if config.preset is None:
        return cls(params, lr=lr)
    if config.optimizer != "rmsprop":
        raise ValueError(
            f"preset: only RMSProp has presets, got {config.preset!r} with "
            f"{config.optimizer!r}"
        )
    return cls(params, preset=config.preset, lr=lr)


class ReferenceShadow:
    """Repeats an optimizer's steps with the NumPy reference on private copies.

    Before each compared step the copies are overwritten with the optimizer's current
    params and state, so that both implementations start from the same values and any
    difference afterwards comes from that single step.
    """

    def __init__(self, name: str, optimizer, params: list[np.ndarray]):
        _, self.function = OPTIMIZERS[name]
        self.optimizer = optimizer
        self.params = params
        self.state_args = REFERENCE_STATE_ARGS[name]
        self.hyperparameters = self._hyperparameters(optimizer)
        self.shadow_params = [p.copy() for p in params]
        self.shadow_state = [
            {key: value.copy() for key, value in state.items() if _is_array(value)}
            for state in optimizer.state
        ]
        self.steps: list[int] | None = None

    def _hyperparameters(self, optimizer) -> dict:
        # The state dict is the documented place to read the resolved hyperparameters
        # (preset and defaults applied). Each one must reach the reference, so that the
        # two never run different updates without notice.
        accepted = inspect.signature(self.function).parameters
        found = {}
        for key, value in optimizer.state_dict().items():
            name = key.removeprefix("hyperparameters.")
            if name == key or name in INITIAL_VALUES or name == "lr":
                continue
            if name not in accepted and name not in ("beta1", "beta2"):
                raise ValueError(f"{key}: the reference step takes no such argument")
            found[name] = _plain(value)
        if "beta1" in found:
            # Stored flat so that np.savez keeps them apart; the step takes a pair.
            found["betas"] = (found.pop("beta1"), found.pop("beta2"))
        return found

    def load(self) -> None:
        """Copy the optimizer's current params and state into the shadow arrays.

        Called before the optimizer's step, so the step numbers read here are those of
        the previous step.
        """
        if "step" in self.optimizer.state[0]:
            self.steps = [int(s["step"]) + 1 for s in self.optimizer.state]
        for shadow, live in zip(self.shadow_params, self.params):
            np.copyto(shadow, live)
        for shadow, live in zip(self.shadow_state, self.optimizer.state):
            for key, array in shadow.items():
                np.copyto(array, live[key])

    def step(self, grads: list[np.ndarray], lr: float) -> None:
        """One reference step on the shadow arrays, as the optimizer's next step."""
        positional = [[s[name] for s in self.shadow_state] for name in self.state_args]
        keywords = dict(self.hyperparameters)
        for name, keyword in REFERENCE_STATE_KEYWORDS.items():
            if name in self.shadow_state[0]:
                keywords[keyword] = [s[name] for s in self.shadow_state]
        if self.steps is not None:
            keywords["steps"] = self.steps
        self.function(self.shadow_params, grads, *positional, lr=lr, **keywords)

    def max_abs_diff(self) -> float:
        """Largest elementwise |optimizer - reference| over params and state."""
        pairs = list(zip(self.shadow_params, self.params))
        for shadow, live in zip(self.shadow_state, self.optimizer.state):
            pairs += [(array, live[key]) for key, array in shadow.items()]
        return max(
            float(np.max(np.abs(a - b), initial=0.0)) for a, b in pairs if a.size
        )


def _is_array(value) -> bool:
    return isinstance(value, np.ndarray) and value.ndim > 0


def _plain(value):
    """A 0-d array as a Python number, a 1-d array (betas) as a tuple."""
    if isinstance(value, np.ndarray):
        return value.item() if value.ndim == 0 else tuple(value.tolist())
    return value


def train(
    config: TrainConfig, on_epoch: Callable[[EpochLog], None] | None = None
) -> TrainResult:
    """Train the MLP on the digits split with the configured optimizer.

    Each minibatch makes one ``optimizer.step(grads)`` over all weights and biases;
    every ``config.reference_every``-th step is also made by the NumPy reference on
    copies of the same arrays, timed separately. ``on_epoch`` is called after every
    epoch with its log.
    """
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(
            f"optimizer: expected one of {sorted(OPTIMIZERS)}, got {config.optimizer!r}"
        )
    lr = DEFAULT_LR[config.optimizer] if config.lr is None else config.lr
    x_train, y_train, x_heldout, y_heldout = load_split()
    rng = np.random.default_rng(config.seed)
    sizes = [x_train.shape[1], config.hidden, config.hidden, 10]
    params = init_params(sizes, rng)

    with _thread_limit(config.threads, config.blas_threads):
        optimizer = make_optimizer(config, params, lr)
        shadow = None
        if config.reference_every > 0:
            shadow = ReferenceShadow(config.optimizer, optimizer, params)
        initial_loss, _ = softmax_cross_entropy(forward(params, x_train)[-1], y_train)

        result = TrainResult(
            config=config,
            lr=lr,
            n_params=sum(p.size for p in params),
            backend=fastrmsprop.backend(),
            initial_loss=initial_loss,
            epochs=[],
            kernel_step_seconds=[],
            reference_step_seconds=[],
            max_abs_diff=0.0,
        )
        step_index = 0
        for epoch in range(1, config.epochs + 1):
            order = rng.permutation(len(x_train))
            losses = []
            step_seconds = 0.0
            for start in range(0, len(order), config.batch_size):
                batch = order[start : start + config.batch_size]
                loss, grads = loss_and_grads(params, x_train[batch], y_train[batch])
                losses.append(loss)
                compare = (
                    shadow is not None and step_index % config.reference_every == 0
                )
                if compare:
                    shadow.load()
                    reference_first = len(result.reference_step_seconds) % 2 == 1
                    if reference_first:
                        # Alternating the order keeps cache warmth from favouring
                        # either side.
                        result.reference_step_seconds.append(
                            _timed(shadow.step, grads, optimizer.lr)
                        )
                kernel_seconds = _timed(optimizer.step, grads)
                step_seconds += kernel_seconds
                if compare:
                    if not reference_first:
                        result.reference_step_seconds.append(
                            _timed(shadow.step, grads, optimizer.lr)
                        )
                    result.kernel_step_seconds.append(kernel_seconds)
                    result.max_abs_diff = max(
                        result.max_abs_diff, shadow.max_abs_diff()
                    )
                step_index += 1
            log = EpochLog(
                epoch=epoch,
                train_loss=float(np.mean(losses)),
                heldout_accuracy=accuracy(params, x_heldout, y_heldout),
                step_seconds=step_seconds,
                steps=len(losses),
            )
            result.epochs.append(log)
            if on_epoch is not None:
                on_epoch(log)
    return result


def _timed(function: Callable, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


class _thread_limit:
    """Sets the optimizer's and BLAS's thread counts for a block, then restores them."""

    def __init__(self, threads: int | None, blas_threads: int | None):
        self.threads = threads
        self.blas_threads = blas_threads
        self.blas = None

    def __enter__(self):
        if self.threads is not None:
            self.previous = fastrmsprop.get_num_threads()
            fastrmsprop.set_num_threads(self.threads)
        if self.blas_threads is not None:
            from threadpoolctl import threadpool_limits

            self.blas = threadpool_limits(limits=self.blas_threads, user_api="blas")
        return self

    def __exit__(self, *exc_info):
        if self.blas is not None:
            self.blas.restore_original_limits()
        if self.threads is not None:
            fastrmsprop.set_num_threads(self.previous)


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """Command-line options as a ``TrainConfig``."""
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="rmsprop")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate (default: "
        + ", ".join(f"{name} {lr:g}" for name, lr in DEFAULT_LR.items())
        + ")",
    )
    parser.add_argument("--hidden", type=int, default=defaults.hidden)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--preset",
        choices=sorted(fastrmsprop.presets.PRESETS),
        default=None,
        help="RMSProp preset (default: the package default)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for the optimizer kernel (default: unchanged)",
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=defaults.blas_threads,
        help="threads for NumPy's matrix products, 0 to leave them unchanged "
        "(default: %(default)s, so that idle BLAS threads do not take the cores "
        "from the optimizer step)",
    )
    parser.add_argument(
        "--reference-every",
        type=int,
        default=defaults.reference_every,
        help="compare with the NumPy reference on every n-th step (0: never)",
    )
    args = parser.parse_args(argv)
    if args.preset is not None and args.optimizer != "rmsprop":
        parser.error("--preset applies to --optimizer rmsprop only")
    return TrainConfig(
        optimizer=args.optimizer,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        hidden=args.hidden,
        seed=args.seed,
        preset=args.preset,
        threads=args.threads,
        blas_threads=args.blas_threads or None,
        reference_every=args.reference_every,
    )


def print_epoch(log: EpochLog) -> None:
    print(
        f"epoch {log.epoch:3d}  train loss {log.train_loss:.4f}  "
        f"held-out acc {log.heldout_accuracy:.4f}  "
        f"optimizer {log.step_seconds * 1e3:7.1f} ms / {log.steps} steps"
    )


def print_summary(result: TrainResult) -> None:
    config = result.config
    print()
    if result.kernel_step_seconds:
        print(
            f"optimizer step, median of the same {len(result.kernel_step_seconds)} "
            f"steps ({result.n_params:,} params, backend {result.backend}):"
        )
        rows = [
            (f"fastrmsprop.{type_name(config)}.step", result.kernel_median * 1e3),
            (
                f"fastrmsprop.reference.{config.optimizer}_step",
                result.reference_median * 1e3,
            ),
        ]
        for label, milliseconds in rows:
            print(f"  {label:<36} {milliseconds:8.3f} ms")
        print(f"  {'speed-up (reference / kernel)':<36} {result.speedup:8.2f}x")
        print(f"  max |kernel - reference| after a step: {result.max_abs_diff:.3g}")
    verdict = "reached" if result.final_accuracy > ACCURACY_TARGET else "MISSED"
    print(
        f"final held-out accuracy {result.final_accuracy:.4f} "
        f"(target > {ACCURACY_TARGET}: {verdict})"
    )


def type_name(config: TrainConfig) -> str:
    return OPTIMIZERS[config.optimizer][0].__name__


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    print(
        f"{config.optimizer}, lr {config.lr or DEFAULT_LR[config.optimizer]:g}, "
        f"64-{config.hidden}-{config.hidden}-10 MLP, batch {config.batch_size}, "
        f"seed {config.seed}, kernel threads "
        f"{config.threads or fastrmsprop.get_num_threads()}, BLAS threads "
        f"{config.blas_threads or 'unchanged'}"
    )
    print_summary(train(config, on_epoch=print_epoch))


if __name__ == "__main__":
    main()
