"""The optimizer steps as functions: every tensor of a model updated in one call.

Each function takes one array or a sequence of arrays per argument, matched by
position, and updates params and state in place (see docs/api.md for the rules on
dtypes, layouts and errors). With the compiled kernels the whole list goes through
one call into C++ that checks every argument, releases the GIL and runs one parallel
region; without them the NumPy reference runs the same update.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from . import reference
from ._backend import core

ArrayArg = Union[np.ndarray, Sequence[np.ndarray]]
StepArg = Union[int, Sequence[int]]

__all__ = ["adagrad_step", "adam_step", "adamw_step", "rmsprop_step"]


def _explain_bad_scalar(**values: Any) -> None:
    """Raise a TypeError naming the first hyperparameter that is not a number.

    Only called after the extension refused its arguments, so the common path pays
    nothing for the friendlier message.
    """
    for name, value in values.items():
        try:
            float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name}: expected a number, got {type(value).__name__}"
            ) from None


def _pair(betas: Any) -> tuple[Any, Any]:
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise TypeError(f"betas: expected a pair of numbers, got {betas!r}") from None
    return beta1, beta2


def rmsprop_step(
    params: ArrayArg,
    grads: ArrayArg,
    square_avgs: ArrayArg,
    *,
    lr: float,
    beta: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    momentum_buffers: ArrayArg | None = None,
    centered: bool = False,
    grad_avgs: ArrayArg | None = None,
    maximize: bool = False,
    eps_in_sqrt: bool = False,
    lr_in_momentum: bool = False,
    decoupled_weight_decay: bool = False,
    nesterov: bool = False,
    skip_nonfinite: bool = False,
) -> bool | None:
    """One RMSProp step, in place, for every param.

    With g the grad (negated if ``maximize``; plus λθ if weight decay is coupled)::

        v  = β·v + (1-β)·g²                          square_avgs
        m̄  = β·m̄ + (1-β)·g,  q = max(v - m̄², 0)      grad_avgs (centered), else q = v
        u  = g / (sqrt(q) + ε)      or  g / sqrt(q + ε) if eps_in_sqrt
        θ  = θ·(1 - γ·λ)                              if decoupled_weight_decay
        θ -= γ·u                                      momentum μ = 0
        b  = μ·b + u,    θ -= γ·(b or u + μ·b)        momentum_buffers, lr outside
        b  = μ·b + γ·u,  θ -= b or γ·u + μ·b          lr_in_momentum
        (the second form of each when nesterov)

    Returns None, or with ``skip_nonfinite`` True if the step was applied and False
    if a grad held NaN or ±inf, in which case nothing was written.
    """
    if core is None:
        return reference.rmsprop_step(
            params, grads, square_avgs, lr=lr, beta=beta, eps=eps,
            weight_decay=weight_decay, momentum=momentum,
            momentum_buffers=momentum_buffers, centered=centered, grad_avgs=grad_avgs,
            maximize=maximize, eps_in_sqrt=eps_in_sqrt, lr_in_momentum=lr_in_momentum,
            decoupled_weight_decay=decoupled_weight_decay, nesterov=nesterov,
            skip_nonfinite=skip_nonfinite,
        )  # fmt: skip
    try:
        applied = core.rmsprop_step(
            params, grads, square_avgs, grad_avgs, momentum_buffers, lr, beta, eps,
            weight_decay, momentum, bool(centered), bool(maximize), bool(eps_in_sqrt),
            bool(lr_in_momentum), bool(decoupled_weight_decay), bool(nesterov),
            bool(skip_nonfinite),
        )  # fmt: skip
    except TypeError:
        _explain_bad_scalar(
            lr=lr, beta=beta, eps=eps, weight_decay=weight_decay, momentum=momentum
        )
        raise
    return applied if skip_nonfinite else None


def adagrad_step(
    params: ArrayArg,
    grads: ArrayArg,
    sums: ArrayArg,
    *,
    lr: float,
    steps: StepArg,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
    eps_in_sqrt: bool = False,
    skip_nonfinite: bool = False,
) -> bool | None:
    """One Adagrad step, in place, for every param.

    With t the step number of this update (``steps``, 1-based) and g the grad
    (negated if ``maximize``, then plus λθ)::

        γₜ = γ / (1 + (t-1)·lr_decay)
        s  = s + g²                                   sums
        θ -= γₜ·g / (sqrt(s) + ε)    or  γₜ·g / sqrt(s + ε) if eps_in_sqrt

    Returns as :func:`rmsprop_step`.
    """
    if core is None:
        return reference.adagrad_step(
            params, grads, sums, lr=lr, steps=steps, lr_decay=lr_decay,
            weight_decay=weight_decay, eps=eps, maximize=maximize,
            eps_in_sqrt=eps_in_sqrt, skip_nonfinite=skip_nonfinite,
        )  # fmt: skip
    try:
        applied = core.adagrad_step(
            params, grads, sums, steps, lr, lr_decay, weight_decay, eps,
            bool(maximize), bool(eps_in_sqrt), bool(skip_nonfinite),
        )  # fmt: skip
    except TypeError:
        _explain_bad_scalar(
            lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps
        )
        raise
    return applied if skip_nonfinite else None


def adam_step(
    params: ArrayArg,
    grads: ArrayArg,
    exp_avgs: ArrayArg,
    exp_avg_sqs: ArrayArg,
    *,
    lr: float,
    steps: StepArg,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    amsgrad: bool = False,
    max_exp_avg_sqs: ArrayArg | None = None,
    maximize: bool = False,
    skip_nonfinite: bool = False,
) -> bool | None:
    """One Adam (or, with ``decoupled_weight_decay``, AdamW) step, in place.

    With t the step number of this update (``steps``) and g the grad (negated if
    ``maximize``; plus λθ for Adam's coupled weight decay)::

        c₁ = 1 - β₁ᵗ,  c₂ = 1 - β₂ᵗ                   in double, once per call
        θ  = θ·(1 - γ·λ)                              AdamW
        m  = β₁·m + (1-β₁)·g                          exp_avgs
        v  = β₂·v + (1-β₂)·g²                         exp_avg_sqs
        v̂  = max(v̂, v), used for v below              max_exp_avg_sqs (amsgrad)
        θ -= (γ/c₁)·m / (sqrt(v)/sqrt(c₂) + ε)

    Returns as :func:`rmsprop_step`.
    """
    if core is None:
        return reference.adam_step(
            params, grads, exp_avgs, exp_avg_sqs, lr=lr, steps=steps, betas=betas,
            eps=eps, weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay, amsgrad=amsgrad,
            max_exp_avg_sqs=max_exp_avg_sqs, maximize=maximize,
            skip_nonfinite=skip_nonfinite,
        )  # fmt: skip
    beta1, beta2 = _pair(betas)
    try:
        applied = core.adam_step(
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1,
            beta2, eps, weight_decay, bool(decoupled_weight_decay), bool(amsgrad),
            bool(maximize), bool(skip_nonfinite),
        )  # fmt: skip
    except TypeError:
        _explain_bad_scalar(
            lr=lr,
            **{"betas[0]": beta1, "betas[1]": beta2},
            eps=eps,
            weight_decay=weight_decay,
        )
        raise
    return applied if skip_nonfinite else None


def adamw_step(
    params: ArrayArg,
    grads: ArrayArg,
    exp_avgs: ArrayArg,
    exp_avg_sqs: ArrayArg,
    *,
    lr: float,
    steps: StepArg,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    max_exp_avg_sqs: ArrayArg | None = None,
    maximize: bool = False,
    skip_nonfinite: bool = False,
) -> bool | None:
    """One AdamW step: :func:`adam_step` with decoupled weight decay,
    θ = θ·(1 - γ·λ) before the Adam update, and λ = 1e-2 by default."""
    return adam_step(
        params, grads, exp_avgs, exp_avg_sqs, lr=lr, steps=steps, betas=betas,
        eps=eps, weight_decay=weight_decay, decoupled_weight_decay=True,
        amsgrad=amsgrad, max_exp_avg_sqs=max_exp_avg_sqs, maximize=maximize,
        skip_nonfinite=skip_nonfinite,
    )  # fmt: skip
