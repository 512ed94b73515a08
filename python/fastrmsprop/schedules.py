"""Learning-rate schedules: small callables mapping steps already taken to an lr.

A schedule is called once per step with the number of steps already taken, 0 for the
first step, so the first step uses the initial lr as torch's schedulers do. Any
callable with that signature works where an optimizer takes a schedule; the ones here
validate their arguments, have a readable ``repr`` (that evaluates back to an equal
schedule in this module's namespace) and pickle.

>>> sched = warmup(cosine_decay(0.1, total_steps=90), warmup_steps=10)
>>> [round(sched(t), 4) for t in (0, 5, 10, 55, 100, 1000)]
[0.0, 0.05, 0.1, 0.05, 0.0, 0.0]
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Union

__all__ = [
    "Constant",
    "CosineDecay",
    "ExponentialDecay",
    "Schedule",
    "StepDecay",
    "Warmup",
    "as_schedule",
    "check_lr",
    "constant",
    "cosine_decay",
    "exponential_decay",
    "step_decay",
    "warmup",
]

#: What an optimizer accepts as ``lr``: a number or a callable of the steps taken.
LearningRate = Union[float, Callable[[int], float]]


def check_lr(value: Any, name: str = "lr") -> float:
    """Return ``value`` as a float: ``ValueError`` unless finite and >= 0.

    A value that is not a real number raises ``TypeError``. Optimizers call it on
    every value a schedule returns, so a schedule that goes wrong mid-training fails
    loudly instead of writing NaN into the params.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    result = float(value)
    if not (math.isfinite(result) and result >= 0):
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return result


def _check_positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    if not (math.isfinite(float(value)) and value > 0):
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def _check_count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


class Schedule:
    """Base of the schedules here: ``schedule(steps_taken) -> lr``."""

    def __call__(self, steps_taken: int) -> float:
        return self.lr_at(_check_count(steps_taken, "steps_taken", 0))

    def lr_at(self, steps_taken: int) -> float:
        """The lr of the step that follows ``steps_taken`` steps (checked >= 0)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(Schedule):
    """γₜ = lr for every step."""

    lr: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", check_lr(self.lr, "lr"))

    def lr_at(self, steps_taken: int) -> float:
        return self.lr

    def __repr__(self) -> str:
        return f"constant({self.lr!r})"


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """γₜ = lr0·decay_rate^(t/decay_steps), with ⌊t/decay_steps⌋ if ``staircase``."""

    lr0: float
    decay_rate: float
    decay_steps: float
    staircase: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr0", check_lr(self.lr0, "lr0"))
        object.__setattr__(
            self, "decay_rate", _check_positive(self.decay_rate, "decay_rate")
        )
        object.__setattr__(
            self, "decay_steps", _check_positive(self.decay_steps, "decay_steps")
        )
        object.__setattr__(self, "staircase", bool(self.staircase))

    def lr_at(self, steps_taken: int) -> float:
        exponent = steps_taken / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.lr0 * self.decay_rate**exponent

    def __repr__(self) -> str:
        return (
            f"exponential_decay({self.lr0!r}, decay_rate={self.decay_rate!r}, "
            f"decay_steps={self.decay_steps!r}, staircase={self.staircase!r})"
        )


@dataclass(frozen=True)
class StepDecay(Schedule):
    """γₜ = lr0·gamma^⌊t/step_size⌋: the lr is multiplied by gamma every step_size."""

    lr0: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr0", check_lr(self.lr0, "lr0"))
        object.__setattr__(
            self, "step_size", _check_count(self.step_size, "step_size", 1)
        )
        object.__setattr__(self, "gamma", check_lr(self.gamma, "gamma"))

    def lr_at(self, steps_taken: int) -> float:
        return self.lr0 * self.gamma ** (steps_taken // self.step_size)

    def __repr__(self) -> str:
        return (
            f"step_decay({self.lr0!r}, step_size={self.step_size!r}, "
            f"gamma={self.gamma!r})"
        )


@dataclass(frozen=True)
class CosineDecay(Schedule):
    """γₜ = final_lr + (lr0 - final_lr)·(1 + cos(π·t/total_steps))/2.

    After ``total_steps`` the lr stays at ``final_lr`` (the cosine is not continued
    back up, unlike torch's ``CosineAnnealingLR`` past ``T_max``).
    """

    lr0: float
    total_steps: int
    final_lr: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr0", check_lr(self.lr0, "lr0"))
        object.__setattr__(
            self, "total_steps", _check_count(self.total_steps, "total_steps", 1)
        )
        object.__setattr__(self, "final_lr", check_lr(self.final_lr, "final_lr"))

    def lr_at(self, steps_taken: int) -> float:
        progress = min(steps_taken, self.total_steps) / self.total_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.final_lr + (self.lr0 - self.final_lr) * cosine

    def __repr__(self) -> str:
        return (
            f"cosine_decay({self.lr0!r}, total_steps={self.total_steps!r}, "
            f"final_lr={self.final_lr!r})"
        )


@dataclass(frozen=True)
class Warmup(Schedule):
    """A linear ramp from ``start_lr`` in front of ``schedule``.

    γₜ = start_lr + (s(0) - start_lr)·t/warmup_steps  for t < warmup_steps,
    γₜ = s(t - warmup_steps)                           afterwards,

    so the wrapped schedule ``s`` starts when the warmup ends and the lr is
    continuous at the junction.
    """

    schedule: Callable[[int], float]
    warmup_steps: int
    start_lr: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedule", as_schedule(self.schedule))
        object.__setattr__(
            self, "warmup_steps", _check_count(self.warmup_steps, "warmup_steps", 0)
        )
        object.__setattr__(self, "start_lr", check_lr(self.start_lr, "start_lr"))

    def lr_at(self, steps_taken: int) -> float:
        if steps_taken >= self.warmup_steps:
            return self.schedule(steps_taken - self.warmup_steps)
        target = self.schedule(0)
        fraction = steps_taken / self.warmup_steps
        return self.start_lr + (target - self.start_lr) * fraction

    def __repr__(self) -> str:
        return (
            f"warmup({self.schedule!r}, warmup_steps={self.warmup_steps!r}, "
            f"start_lr={self.start_lr!r})"
        )


def constant(lr: float) -> Constant:
    """The schedule γₜ = lr."""
    return Constant(lr)


def exponential_decay(
    lr0: float, decay_rate: float, decay_steps: float, staircase: bool = False
) -> ExponentialDecay:
    """γₜ = lr0·decay_rate^(t/decay_steps); the exponent is floored if ``staircase``.

    ``decay_rate`` and ``decay_steps`` must be > 0; a rate above 1 grows the lr.
    """
    return ExponentialDecay(lr0, decay_rate, decay_steps, staircase)


def step_decay(lr0: float, step_size: int, gamma: float = 0.1) -> StepDecay:
    """γₜ = lr0·gamma^⌊t/step_size⌋, as torch's ``StepLR``.

    ``step_size`` is an int >= 1 and ``gamma`` a finite number >= 0.
    """
    return StepDecay(lr0, step_size, gamma)


def cosine_decay(lr0: float, total_steps: int, final_lr: float = 0.0) -> CosineDecay:
    """γₜ = final_lr + (lr0 - final_lr)·(1 + cos(π·min(t, T)/T))/2, T = total_steps."""
    return CosineDecay(lr0, total_steps, final_lr)


def warmup(
    schedule_or_lr: LearningRate, warmup_steps: int, start_lr: float = 0.0
) -> Warmup:
    """A linear ramp from ``start_lr`` over ``warmup_steps`` steps, then the schedule.

    γₜ = start_lr + (s(0) - start_lr)·t/warmup_steps for t < warmup_steps, and
    s(t - warmup_steps) afterwards, with ``s = as_schedule(schedule_or_lr)``.
    With ``start_lr=0`` the first step has lr 0, which leaves the params unchanged
    but still updates the optimizer state, as other frameworks' warmups do.
    """
    return Warmup(schedule_or_lr, warmup_steps, start_lr)


def as_schedule(lr: LearningRate) -> Callable[[int], float]:
    """Return ``lr`` as a schedule: a number becomes ``constant(lr)``.

    A callable is returned as it is; anything else raises ``TypeError``.
    """
    if isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        return constant(lr)
    if callable(lr):
        return lr
    raise TypeError(f"lr: expected a number or a schedule, got {type(lr).__name__}")
