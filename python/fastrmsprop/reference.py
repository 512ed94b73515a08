"""The executable specification: every update rule of fastrmsprop in plain NumPy.

Each function follows the specification line by line and is written for clarity, not
speed; the C++ kernel is tested against it. The signatures, argument checks and
errors are those of the public functional API, so these functions also serve as the
fallback backend when the compiled extension is not available.

Precision: the math runs in the state dtype (float32 for float16 and bfloat16
params, whose values are widened on load and rounded to nearest even on store).
Hyperparameters are Python floats, which NumPy converts to the math dtype where they
meet an array, so they are never rounded to a half-precision param dtype. Scalars
computed once per step (Adam's bias corrections, Adagrad's decayed lr) are computed
in double precision.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastrmsprop import _checks

__all__ = ["adagrad_step", "adam_step", "adamw_step", "rmsprop_step"]


def rmsprop_step(
    params: Any,
    grads: Any,
    square_avgs: Any,
    *,
    lr: float,
    beta: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    momentum_buffers: Any = None,
    centered: bool = False,
    grad_avgs: Any = None,
    maximize: bool = False,
    eps_in_sqrt: bool = False,
    lr_in_momentum: bool = False,
    decoupled_weight_decay: bool = False,
    nesterov: bool = False,
    skip_nonfinite: bool = False,
) -> bool | None:
    """One RMSProp update of every param, in place.

    With θ param, g grad, γ lr, β beta, λ weight_decay, μ momentum, ε eps::

        if maximize:                g = -g
        if λ and not decoupled:     g = g + λ·θ
        v = β·v + (1-β)·g²                                      (square_avg)
        if centered:                m̄ = β·m̄ + (1-β)·g ;  q = max(v - m̄², 0)
        else:                       q = v
        D = sqrt(q + ε)  if eps_in_sqrt  else  sqrt(q) + ε
        u = g / D
        if λ and decoupled:         θ = θ·(1 - γ·λ)
        if μ == 0:                  θ = θ - γ·u
        elif lr_in_momentum:        b = μ·b + γ·u ;  θ = θ - (b, or γ·u + μ·b)
        else:                       b = μ·b + u   ;  θ = θ - γ·(b, or u + μ·b)

    where the second form of the momentum update is used with ``nesterov``.

    Returns None, or with ``skip_nonfinite`` whether the step was applied: False
    when some grad holds a NaN or an infinity, in which case nothing is written.
    """
    lr = _checks.number(lr, "lr", low=0.0)
    beta = _checks.number(beta, "beta", low=0.0, high=1.0, high_open=True)
    eps = _checks.number(eps, "eps", low=0.0)
    weight_decay = _checks.number(weight_decay, "weight_decay", low=0.0)
    momentum = _checks.number(momentum, "momentum", low=0.0)
    if nesterov and momentum == 0:
        raise ValueError("nesterov: requires momentum > 0")
    states = {"square_avgs": square_avgs}
    if momentum > 0:
        states["momentum_buffers"] = _checks.required(
            momentum_buffers, "momentum_buffers", "momentum > 0"
        )
    if centered:
        states["grad_avgs"] = _checks.required(grad_avgs, "grad_avgs", "centered")
    arrays = _checks.step_arrays(params, grads, states)
    if skip_nonfinite and not _checks.all_finite(arrays.grads):
        return False

    for i, param in enumerate(arrays.params):
        _rmsprop_update(
            param,
            arrays.grads[i],
            arrays.states["square_avgs"][i],
            arrays.states["grad_avgs"][i] if centered else None,
            arrays.states["momentum_buffers"][i] if momentum > 0 else None,
            lr=lr,
            beta=beta,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            maximize=maximize,
            eps_in_sqrt=eps_in_sqrt,
            lr_in_momentum=lr_in_momentum,
            decoupled_weight_decay=decoupled_weight_decay,
            nesterov=nesterov,
        )
    return True if skip_nonfinite else None


def adagrad_step(
    params: Any,
    grads: Any,
    sums: Any,
    *,
    lr: float,
    steps: int | Any,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
    eps_in_sqrt: bool = False,
    skip_nonfinite: bool = False,
) -> bool | None:
    """One Adagrad update of every param, in place.

    With t the 1-based step number of this update (``steps``) and s the ``sum``::

        γₜ = γ / (1 + (t-1)·lr_decay)          (in double precision)
        if maximize: g = -g
        if λ:        g = g + λ·θ
        s = s + g²
        D = sqrt(s + ε)  if eps_in_sqrt  else  sqrt(s) + ε
        θ = θ - γₜ·g / D

    Returns None, or with ``skip_nonfinite`` whether the step was applied.
    """
    lr = _checks.number(lr, "lr", low=0.0)
    lr_decay = _checks.number(lr_decay, "lr_decay", low=0.0)
    weight_decay = _checks.number(weight_decay, "weight_decay", low=0.0)
    eps = _checks.number(eps, "eps", low=0.0)
    arrays = _checks.step_arrays(params, grads, {"sums": sums})
    step_numbers = _checks.steps(steps, len(arrays.params), arrays.single)
    if skip_nonfinite and not _checks.all_finite(arrays.grads):
        return False

    for param, grad, total, t in zip(
        arrays.params, arrays.grads, arrays.states["sums"], step_numbers
    ):
        _adagrad_update(
            param,
            grad,
            total,
            lr=lr / (1.0 + (t - 1) * lr_decay),
            weight_decay=weight_decay,
            eps=eps,
            maximize=maximize,
            eps_in_sqrt=eps_in_sqrt,
        )
    return True if skip_nonfinite else None


def adam_step(
    params: Any,
    grads: Any,
    exp_avgs: Any,
    exp_avg_sqs: Any,
    *,
    lr: float,
    steps: int | Any,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    amsgrad: bool = False,
    max_exp_avg_sqs: Any = None,
    maximize: bool = False,
    skip_nonfinite: bool = False,
) -> bool | None:
    """One Adam (or, with ``decoupled_weight_decay``, AdamW) update, in place.

    With t the 1-based step number of this update (``steps``), m the ``exp_avg``, v
    the ``exp_avg_sq`` and v̂ the ``max_exp_avg_sq``::

        c₁ = 1 - β₁ᵗ ;  c₂ = 1 - β₂ᵗ          (in double precision)
        if maximize:                g = -g
        if λ and not decoupled:     g = g + λ·θ
        if λ and decoupled:         θ = θ·(1 - γ·λ)
        m = β₁·m + (1-β₁)·g
        v = β₂·v + (1-β₂)·g²
        if amsgrad:                 v̂ = max(v̂, v), and v̂ replaces v below
        θ = θ - (γ/c₁)·m / (sqrt(v)/sqrt(c₂) + ε)

    Returns None, or with ``skip_nonfinite`` whether the step was applied.
    """
    lr = _checks.number(lr, "lr", low=0.0)
    beta1, beta2 = _checks.betas(betas)
    eps = _checks.number(eps, "eps", low=0.0)
    weight_decay = _checks.number(weight_decay, "weight_decay", low=0.0)
    states = {"exp_avgs": exp_avgs, "exp_avg_sqs": exp_avg_sqs}
    if amsgrad:
        states["max_exp_avg_sqs"] = _checks.required(
            max_exp_avg_sqs, "max_exp_avg_sqs", "amsgrad"
        )
    arrays = _checks.step_arrays(params, grads, states)
    step_numbers = _checks.steps(steps, len(arrays.params), arrays.single)
    if skip_nonfinite and not _checks.all_finite(arrays.grads):
        return False

    for i, param in enumerate(arrays.params):
        t = step_numbers[i]
        _adam_update(
            param,
            arrays.grads[i],
            arrays.states["exp_avgs"][i],
            arrays.states["exp_avg_sqs"][i],
            arrays.states["max_exp_avg_sqs"][i] if amsgrad else None,
            lr=lr,
            beta1=beta1,
            beta2=beta2,
            bias_correction1=1.0 - beta1**t,
            bias_correction2=1.0 - beta2**t,
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
    return True if skip_nonfinite else None


def adamw_step(
    params: Any,
    grads: Any,
    exp_avgs: Any,
    exp_avg_sqs: Any,
    *,
    lr: float,
    steps: int | Any,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    max_exp_avg_sqs: Any = None,
    maximize: bool = False,
    skip_nonfinite: bool = False,
) -> bool | None:
    """One AdamW update: :func:`adam_step` with decoupled weight decay, λ = 1e-2.

    The weight decay shrinks the param before the Adam step, θ = θ·(1 - γ·λ), instead
    of being added to the gradient.
    """
    return adam_step(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        lr=lr,
        steps=steps,
        betas=betas,
        eps=eps,
        weight_decay=weight_decay,
        decoupled_weight_decay=True,
        amsgrad=amsgrad,
        max_exp_avg_sqs=max_exp_avg_sqs,
        maximize=maximize,
        skip_nonfinite=skip_nonfinite,
    )


# The per-array updates below compute every new value into a temporary and store it
# at the end. Non-finite values are part of the contract (NaN in, NaN out), so
# NumPy's floating-point warnings are silenced rather than turned into errors.


def _flat(*arrays: np.ndarray | None) -> list[np.ndarray | None]:
    """1-D views of C-contiguous arrays (a grad may be copied; None stays None).

    The math then never meets a 0-d array, which NumPy < 2 computes as a float64
    scalar whatever its dtype.
    """
    return [None if a is None else a.reshape(-1) for a in arrays]


def _rmsprop_update(
    param: np.ndarray,
    grad: np.ndarray,
    square_avg: np.ndarray,
    grad_avg: np.ndarray | None,
    momentum_buffer: np.ndarray | None,
    *,
    lr: float,
    beta: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    maximize: bool,
    eps_in_sqrt: bool,
    lr_in_momentum: bool,
    decoupled_weight_decay: bool,
    nesterov: bool,
) -> None:
    param, grad, square_avg, grad_avg, momentum_buffer = _flat(
        param, grad, square_avg, grad_avg, momentum_buffer
    )
    with np.errstate(all="ignore"):
        theta = param.astype(square_avg.dtype)
        g = grad.astype(square_avg.dtype)
        if maximize:
            g = -g
        if weight_decay and not decoupled_weight_decay:
            g = g + weight_decay * theta
        v = beta * square_avg + (1.0 - beta) * (g * g)
        if grad_avg is not None:
            m = beta * grad_avg + (1.0 - beta) * g
            # Rounding can leave v a hair below m̄² when the variance is ~0; a square
            # root of that would be NaN.
            q = np.maximum(v - m * m, 0.0)
        else:
            q = v
        denom = np.sqrt(q + eps) if eps_in_sqrt else np.sqrt(q) + eps
        u = g / denom
        if weight_decay and decoupled_weight_decay:
            theta = theta * (1.0 - lr * weight_decay)
        if momentum == 0:
            theta = theta - lr * u
        elif lr_in_momentum:
            b = momentum * momentum_buffer + lr * u
            theta = theta - (lr * u + momentum * b if nesterov else b)
        else:
            b = momentum * momentum_buffer + u
            theta = theta - lr * (u + momentum * b if nesterov else b)

    square_avg[...] = v
    if grad_avg is not None:
        grad_avg[...] = m
    if momentum_buffer is not None:
        momentum_buffer[...] = b
    param[...] = theta.astype(param.dtype)


def _adagrad_update(
    param: np.ndarray,
    grad: np.ndarray,
    total: np.ndarray,
    *,
    lr: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
    eps_in_sqrt: bool,
) -> None:
    param, grad, total = _flat(param, grad, total)
    with np.errstate(all="ignore"):
        theta = param.astype(total.dtype)
        g = grad.astype(total.dtype)
        if maximize:
            g = -g
        if weight_decay:
            g = g + weight_decay * theta
        s = total + g * g
        denom = np.sqrt(s + eps) if eps_in_sqrt else np.sqrt(s) + eps
        theta = theta - lr * g / denom

    total[...] = s
    param[...] = theta.astype(param.dtype)


def _adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    max_exp_avg_sq: np.ndarray | None,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    bias_correction1: float,
    bias_correction2: float,
    eps: float,
    weight_decay: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> None:
    param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq = _flat(
        param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq
    )
    with np.errstate(all="ignore"):
        theta = param.astype(exp_avg.dtype)
        g = grad.astype(exp_avg.dtype)
        if maximize:
            g = -g
        if weight_decay and not decoupled_weight_decay:
            g = g + weight_decay * theta
        if weight_decay and decoupled_weight_decay:
            theta = theta * (1.0 - lr * weight_decay)
        m = beta1 * exp_avg + (1.0 - beta1) * g
        v = beta2 * exp_avg_sq + (1.0 - beta2) * (g * g)
        if max_exp_avg_sq is not None:
            v_max = np.maximum(max_exp_avg_sq, v)
            v_used = v_max
        else:
            v_used = v
        denom = np.sqrt(v_used) / math.sqrt(bias_correction2) + eps
        theta = theta - (lr / bias_correction1) * m / denom

    exp_avg[...] = m
    exp_avg_sq[...] = v
    if max_exp_avg_sq is not None:
        max_exp_avg_sq[...] = v_max
    param[...] = theta.astype(param.dtype)
