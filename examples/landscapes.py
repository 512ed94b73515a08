"""Landscapes: measured evidence for why RMSProp works and where it breaks.

Eight small experiments on NumPy float64 arrays, each a function that returns its
numbers (and the curves behind them) so that the table printed here, the figures in
docs/landscapes.md and tests/test_landscapes.py all come from the same code:

1. ``valley``            anisotropic quadratic: steps to a loss below 1e-6
2. ``scale_invariance``  the loss times 1e6: same RMSProp iterates, not GD's
3. ``forgetting``        steep entry, long plateau: Adagrad stalls, RMSProp crosses
4. ``memory_span``       steps for v to close 1 - 1/e of a jump in g²
5. ``saddle``            steps to leave a saddle from a tiny offset
6. ``spike``             one huge gradient: step collapse and recovery time
7. ``mean_vs_variance``  uncentered and centered denominators against σ
8. ``schedules_compose`` RMSProp with exponential decay on a noisy quadratic

Usage::

    python examples/landscapes.py [--out DIR] [--no-plots]

matplotlib is only needed for the figures (``--no-plots`` skips them).
Plain gradient descent is written here in a few lines: it is the baseline.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import fastrmsprop
from fastrmsprop import schedules

TOL = 1e-6


def gradient_descent(grad, theta0, lr, steps, stop=None):
    """Plain gradient descent θ ← θ − γ·∇f(θ); returns the iterates, shape (n+1, d).

    ``lr`` is a number or a schedule. Iteration ends early when ``stop(θ)`` is true
    or when θ leaves the float range (the rows after that are not returned).
    """
    theta = np.array(theta0, dtype=np.float64)
    path = [theta]
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            if stop is not None and stop(theta):
                break
            gamma = lr(t) if callable(lr) else lr
            theta = theta - gamma * grad(theta)
            path.append(theta)
            if not np.isfinite(theta).all():
                break
    return np.array(path)


def run_optimizer(make, grad, theta0, steps, stop=None):
    """Iterates of ``make(θ)`` (a fastrmsprop optimizer) on ``grad``, shape (n+1, d).

    Returns the iterates and the optimizer, whose state the caller may inspect.
    """
    theta = np.array(theta0, dtype=np.float64)
    opt = make(theta)
    path = [theta.copy()]
    for _ in range(steps):
        if stop is not None and stop(theta):
            break
        opt.step(grad(theta))
        path.append(theta.copy())
    return np.array(path), opt


def _first(mask):
    """Index of the first True in ``mask``, or None."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _stays_from(mask):
    """First index from which ``mask`` holds to the end, or None if the last fails."""
    if not mask[-1]:
        return None
    fails = np.flatnonzero(~mask)
    return int(fails[-1]) + 1 if fails.size else 0


# 1. Anisotropic valley ---------------------------------------------------------------


@dataclass
class ValleyResult:
    kappa: float
    gd_lr: float
    gd_steps: int
    rmsprop_steps: int  # first step from which the loss stays below TOL
    rmsprop_first_hit: int
    constant_first_hit: int | None
    constant_floor: float  # mean loss over the last 100 steps with a constant lr
    constant_floor_theory: float
    kappa_eff: float  # median over the steps before TOL of max(hᵢ)/min(hᵢ)
    gd_loss: np.ndarray = field(repr=False)
    rmsprop_loss: np.ndarray = field(repr=False)
    constant_loss: np.ndarray = field(repr=False)
    gd_path: np.ndarray = field(repr=False)
    rmsprop_path: np.ndarray = field(repr=False)


def valley(kappa=100.0, theta0=(0.5, 1.0), lr=1e-2, decade_steps=500, steps=2000):
    """f(θ) = a₁θ₁² + a₂θ₂² with a₁/a₂ = κ: steps until f < 1e-6.

    Gradient descent gets its best constant lr, γ = 2/(L + μ) = 1/(a₁ + a₂), which
    contracts both axes by (κ−1)/(κ+1) per step. RMSProp (torch preset, β = 0.99)
    gets γₜ = lr·10^(−t/decade_steps): with a constant lr it would end in a limit
    cycle of amplitude γ/2 on each axis, loss (a₁ + a₂)·γ²/4, also measured here.
    The effective curvature RMSProp sees on axis i is hᵢ = 2aᵢ/(√vᵢ + ε).
    """
    a = np.array([kappa, 1.0])

    def loss(th):
        return (a * th * th).sum(axis=-1)

    def grad(th):
        return 2.0 * a * th

    gd_lr = 1.0 / a.sum()
    gd_path = gradient_descent(
        grad, theta0, gd_lr, 10**7, stop=lambda th: loss(th) < TOL
    )
    gd_loss = loss(gd_path)

    eps = 1e-8
    sched = schedules.exponential_decay(lr, 0.1, decade_steps)
    theta = np.array(theta0, dtype=np.float64)
    opt = fastrmsprop.RMSProp(theta, lr=sched, beta=0.99, eps=eps)
    curvatures = []
    path = [theta.copy()]
    for _ in range(steps):
        opt.step(grad(theta))
        path.append(theta.copy())
        denom = np.sqrt(opt.state[0]["square_avg"]) + eps
        curvatures.append(2.0 * a / denom)
    rms_path = np.array(path)
    rms_loss = loss(rms_path)
    below = rms_loss < TOL
    first = _first(below)
    h = np.array(curvatures[: max(first or steps, 1)])
    kappa_eff = float(np.median(h.max(axis=1) / h.min(axis=1)))

    const_path, _ = run_optimizer(
        lambda th: fastrmsprop.RMSProp(th, lr=lr, beta=0.99), grad, theta0, steps
    )
    const_loss = loss(const_path)

    return ValleyResult(
        kappa=kappa,
        gd_lr=gd_lr,
        gd_steps=len(gd_path) - 1,
        rmsprop_steps=_stays_from(below),
        rmsprop_first_hit=first,
        constant_first_hit=_first(const_loss < TOL),
        constant_floor=float(const_loss[-100:].mean()),
        constant_floor_theory=float(a.sum() * lr**2 / 4),
        kappa_eff=kappa_eff,
        gd_loss=gd_loss,
        rmsprop_loss=rms_loss,
        constant_loss=const_loss,
        gd_path=gd_path,
        rmsprop_path=rms_path,
    )


# 2. Scale invariance -----------------------------------------------------------------


def rosenbrock(th):
    """f(x, y) = (1 − x)² + 100·(y − x²)²."""
    x, y = th[..., 0], th[..., 1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def rosenbrock_grad(th):
    """∇f = (−2(1 − x) − 400x(y − x²), 200(y − x²))."""
    x, y = th
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


@dataclass
class ScaleResult:
    scale: float
    steps: int
    rmsprop_max_diff: float  # max over ``steps`` of ‖θ(scale·f) − θ(f)‖∞, ε = 1e-30
    default_eps_diff: float  # the same with the default ε = 1e-8
    pow2_identical: bool  # scale 2²⁰: bitwise equal iterates for ``long_steps``
    drift_step: int | None  # first step where the ×scale run is 1e-6 away
    gd_diverged_at: int | None  # step at which GD on scale·f left |θ| ≤ 1e6
    rmsprop_path: np.ndarray = field(repr=False)
    rmsprop_scaled_path: np.ndarray = field(repr=False)
    gd_path: np.ndarray = field(repr=False)
    gd_scaled_path: np.ndarray = field(repr=False)


def scale_invariance(scale=1e6, steps=400, long_steps=1500, lr=1e-2, gd_lr=1e-3):
    """Rosenbrock from (−1.2, 1) and the same loss times ``scale``.

    RMSProp's update g/(√v + ε) is homogeneous of degree 0 in g once ε is negligible:
    the iterates differ only by the rounding of g·scale. With a power-of-two scale
    the products, the square root and the quotient are exact, so the iterates are
    bitwise equal. Gradient descent's update scales with g: the lr that is stable
    for f is ``scale`` times too large for scale·f.
    """
    theta0 = (-1.2, 1.0)

    def rmsprop(factor, eps, n):
        path, _ = run_optimizer(
            lambda th: fastrmsprop.RMSProp(th, lr=lr, beta=0.99, eps=eps),
            lambda th: factor * rosenbrock_grad(th),
            theta0,
            n,
        )
        return path

    rms = rmsprop(1.0, 1e-30, long_steps)
    rms_scaled = rmsprop(scale, 1e-30, long_steps)
    diff = np.abs(rms_scaled - rms).max(axis=1)
    default = np.abs(rmsprop(scale, 1e-8, steps) - rmsprop(1.0, 1e-8, steps)).max()
    pow2 = 2.0**20
    pow2_identical = np.array_equal(rmsprop(pow2, 1e-30, long_steps), rms)

    gd = gradient_descent(rosenbrock_grad, theta0, gd_lr, long_steps)
    gd_scaled = gradient_descent(
        lambda th: scale * rosenbrock_grad(th),
        theta0,
        gd_lr,
        long_steps,
        stop=lambda th: np.max(np.abs(th)) > 1e6,
    )
    escaped = ~(np.abs(gd_scaled) <= 1e6).all(axis=1)
    return ScaleResult(
        scale=scale,
        steps=steps,
        rmsprop_max_diff=float(diff[: steps + 1].max()),
        default_eps_diff=float(default),
        pow2_identical=bool(pow2_identical),
        drift_step=_first(diff > 1e-6),
        gd_diverged_at=_first(escaped),
        rmsprop_path=rms,
        rmsprop_scaled_path=rms_scaled,
        gd_path=gd,
        gd_scaled_path=gd_scaled,
    )


# 3. Perfect memory versus forgetting -------------------------------------------------

STEEP_END, PLATEAU_END, BASIN_MIN = 1.0, 21.0, 22.0
PLATEAU_SLOPE = 1e-3


def ramp(x):
    """Steep entry, long plateau, basin: f = 1 − x; −10⁻³(x − 1); (x − 22)² − 1.02.

    Slope −1 on x < 1, −10⁻³ on 1 ≤ x < 21 (a plateau 20 long), then a quadratic
    basin with its minimum at x = 22; f is continuous.
    """
    x = np.asarray(x, dtype=np.float64)
    return np.where(
        x < STEEP_END,
        1.0 - x,
        np.where(
            x < PLATEAU_END,
            -PLATEAU_SLOPE * (x - STEEP_END),
            (x - BASIN_MIN) ** 2 - 1.0 - PLATEAU_SLOPE * (PLATEAU_END - STEEP_END),
        ),
    )


def ramp_grad(th):
    """f′ of ``ramp``, elementwise."""
    x = th[0]
    if x < STEEP_END:
        return np.array([-1.0])
    if x < PLATEAU_END:
        return np.array([-PLATEAU_SLOPE])
    return np.array([2.0 * (x - BASIN_MIN)])


@dataclass
class ForgettingResult:
    steps: int
    lr: float
    distance: dict  # name -> x after ``steps`` minus x₀
    plateau_entry: dict  # name -> step at which x ≥ 1
    plateau_exit: dict  # name -> step at which x ≥ 21, or None
    recovery: dict  # RMSProp β -> steps from plateau entry until the step ≥ γ/2
    recovery_theory: dict  # same, from v at entry: ln(v/(3g²))/(−ln β)
    paths: dict = field(repr=False)


def forgetting(steps=1500, lr=0.1, betas=(0.9, 0.99)):
    """Adagrad, RMSProp and Adam with the same lr on ``ramp`` from x = 0.

    Adagrad's s = Σg² keeps the steep entry forever: on the plateau its step is
    γ·10⁻³/√s, tiny. RMSProp's v forgets at rate β: once βᵏ·v_entry ≈ 3·g², the step
    is back to γ/2 and it crosses at about γ per step.
    """
    makers = {"Adagrad": lambda th: fastrmsprop.Adagrad(th, lr=lr)}
    for beta in betas:
        makers[f"RMSProp β={beta}"] = lambda th, b=beta: fastrmsprop.RMSProp(
            th, lr=lr, beta=b
        )
    makers["Adam"] = lambda th: fastrmsprop.Adam(th, lr=lr)

    paths, distance, entry, exit_, recovery, theory = {}, {}, {}, {}, {}, {}
    for name, make in makers.items():
        theta = np.zeros(1)
        opt = make(theta)
        xs, v_entry = [0.0], None
        for _ in range(steps):
            on_plateau = STEEP_END <= theta[0] < PLATEAU_END
            if on_plateau and v_entry is None and "square_avg" in opt.state[0]:
                v_entry = float(opt.state[0]["square_avg"][0])
            opt.step(ramp_grad(theta))
            xs.append(float(theta[0]))
        xs = np.array(xs)
        paths[name] = xs
        distance[name] = float(xs[-1] - xs[0])
        entry[name] = _first(xs >= STEEP_END)
        exit_[name] = _first(xs >= PLATEAU_END)
        if name.startswith("RMSProp"):
            beta = float(name.split("=")[1])
            moves = np.diff(xs)
            on = entry[name]
            fast = (moves >= lr / 2) & (xs[:-1] < PLATEAU_END)
            recovery[beta] = _first(fast[on:])
            theory[beta] = math.log(v_entry / (3 * PLATEAU_SLOPE**2)) / -math.log(beta)
    return ForgettingResult(steps, lr, distance, entry, exit_, recovery, theory, paths)


# 4. Memory span ----------------------------------------------------------------------


@dataclass
class MemoryResult:
    beta: float
    steps_up: int  # g: 1 → 10, steps until |v − 100| ≤ 99/e
    steps_down: int  # g: 10 → 1, steps until |v − 1| ≤ 99/e
    theory: int  # ⌈1/(−ln β)⌉
    horizon: float  # 1/(1 − β)
    v_up: np.ndarray = field(repr=False)


def memory_span(beta, low=1.0, high=10.0):
    """Steps for v to close all but 1/e of a jump in g² (vₖ − v∞ = βᵏ·(v₀ − v∞)).

    v starts at its stationary value (``initial_square_avg`` = g²), so the response
    to the step change is βᵏ exactly: k = ⌈1/(−ln β)⌉ ≈ 1/(1 − β) − 1/2.
    """
    span = math.ceil(5 / (1 - beta))
    out = {}
    for name, before, after in (("up", low, high), ("down", high, low)):
        theta = np.zeros(1)
        opt = fastrmsprop.RMSProp(
            theta, lr=1e-3, beta=beta, initial_square_avg=before**2
        )
        v = []
        for _ in range(span):
            opt.step(np.array([after]))
            v.append(float(opt.state[0]["square_avg"][0]))
        v = np.array(v)
        gap = abs(before**2 - after**2) / math.e
        out[name] = (_first(np.abs(v - after**2) <= gap) + 1, v)
    return MemoryResult(
        beta=beta,
        steps_up=out["up"][0],
        steps_down=out["down"][0],
        theory=math.ceil(1 / -math.log(beta)),
        horizon=1 / (1 - beta),
        v_up=out["up"][1],
    )


# 5. Saddle point ---------------------------------------------------------------------

SADDLE_A, SADDLE_B, SADDLE_C = 1.0, 0.1, 0.05
ESCAPE = 0.5


def saddle_loss(th):
    """f(x, y) = x² − 0.1·y² + 0.05·y⁴: a saddle at 0, minima at (0, ±1)."""
    x, y = th[..., 0], th[..., 1]
    return SADDLE_A * x * x - SADDLE_B * y * y + SADDLE_C * y**4


def saddle_grad(th):
    """∇f = (2x, −0.2·y + 0.2·y³)."""
    x, y = th
    return np.array([2 * SADDLE_A * x, -2 * SADDLE_B * y + 4 * SADDLE_C * y**3])


@dataclass
class SaddleResult:
    y0: float
    gd_steps: int  # steps until |y| ≥ 0.5
    gd_theory: float  # ln(0.5/y₀)/ln(1 + 2bγ), the linearized count
    rmsprop_steps: int
    adam_steps: int
    gd_path: np.ndarray = field(repr=False)
    rmsprop_path: np.ndarray = field(repr=False)
    adam_path: np.ndarray = field(repr=False)


def saddle(y0=1e-6, gd_lr=0.5, lr=1e-2, max_steps=5000):
    """Escape from (1, y₀) on ``saddle_loss``.

    GD gets γ = 0.5, the lr that zeroes x in one step (stable up to 1): y grows by
    1 + 2bγ = 1.1 per step, so escape takes ln(0.5/y₀)/ln 1.1 steps. RMSProp and Adam
    (lr 0.01) move y by about γ per step however small ∂f/∂y is.
    """
    theta0 = (1.0, y0)

    def stop(th):
        return abs(th[1]) >= ESCAPE

    gd = gradient_descent(saddle_grad, theta0, gd_lr, max_steps, stop=stop)
    rms, _ = run_optimizer(
        lambda th: fastrmsprop.RMSProp(th, lr=lr), saddle_grad, theta0, max_steps, stop
    )
    adam, _ = run_optimizer(
        lambda th: fastrmsprop.Adam(th, lr=lr), saddle_grad, theta0, max_steps, stop
    )
    return SaddleResult(
        y0=y0,
        gd_steps=len(gd) - 1,
        gd_theory=math.log(ESCAPE / y0) / math.log(1 + 2 * SADDLE_B * gd_lr),
        rmsprop_steps=len(rms) - 1,
        adam_steps=len(adam) - 1,
        gd_path=gd,
        rmsprop_path=rms,
        adam_path=adam,
    )


# 6. Outlier spike --------------------------------------------------------------------


@dataclass
class SpikeResult:
    beta: float
    size: float
    collapse: float  # smallest RMS step after the spike, relative to before
    spike_step: float  # RMS step on the spike itself, relative; ≈ 1/√(1 − β)
    recovery: int  # steps after the spike until the RMS step is back to 90 %
    recovery_theory: float  # ln((1 − β)S²/δ)/(−ln β), δ = 1/0.9² − 1
    ratio: np.ndarray = field(repr=False)  # RMS step / pre-spike mean, from spike


def spike(beta=0.99, size=1e3, dim=1000, before=200, seed=0):
    """One gradient of S = ``size`` on every coordinate among N(0, 1) gradients.

    v jumps by (1 − β)·S² and decays as βᵏ, so the RMS step γ·|g|/√v is
    ≈ 1/√(1 + (1 − β)S²βᵏ) of normal and is back to 90 % after the k above.
    """
    rng = np.random.default_rng(seed)
    after = math.ceil(2 * math.log((1 - beta) * size**2) / (1 - beta))
    theta = np.zeros(dim)
    lr = 1e-3
    opt = fastrmsprop.RMSProp(theta, lr=lr, beta=beta, initial_square_avg=1.0)
    rms = []
    for t in range(before + after):
        g = rng.standard_normal(dim)
        if t == before:
            g = np.full(dim, size)
        previous = theta.copy()
        opt.step(g)
        rms.append(np.sqrt(np.mean((theta - previous) ** 2)) / lr)
    rms = np.array(rms)
    ratio = rms[before:] / rms[:before].mean()
    delta = 1 / 0.9**2 - 1
    return SpikeResult(
        beta=beta,
        size=size,
        collapse=float(ratio[1:].min()),
        spike_step=float(ratio[0]),
        recovery=_first(ratio[1:] >= 0.9) + 1,
        recovery_theory=math.log((1 - beta) * size**2 / delta) / -math.log(beta),
        ratio=ratio,
    )


# 7. Mean versus variance -------------------------------------------------------------


@dataclass
class MomentResult:
    beta: float
    ratios: np.ndarray  # μ/σ per group
    uncentered: np.ndarray  # time-mean of √v / σ per group; theory √(1 + (μ/σ)²)
    centered: np.ndarray  # time-mean of √(v − m̄²) / σ; theory √(2β/(1 + β))
    trace_v: np.ndarray = field(repr=False)  # √v of one coordinate, last group
    trace_c: np.ndarray = field(repr=False)


def mean_vs_variance(
    beta=0.99, sigma=1.0, ratios=(0, 0.5, 1, 2, 4, 8), per=200, steps=3000, seed=0
):
    """Gradients g = μ + σξ, ξ ~ N(0, 1): the two RMSProp denominators against σ.

    E[v] = μ² + σ², the mean leaks into the uncentered denominator. The centered one
    subtracts m̄², whose EMA noise leaves E[v − m̄²] = σ²·2β/(1 + β).
    The first 10/(1 − β) steps are warm-up and not averaged.
    """
    rng = np.random.default_rng(seed)
    ratios = np.asarray(ratios, dtype=np.float64)
    mu = np.repeat(ratios * sigma, per)
    plain = np.zeros(mu.size)
    centered = np.zeros(mu.size)
    opt_plain = fastrmsprop.RMSProp(plain, lr=1e-3, beta=beta)
    opt_centered = fastrmsprop.RMSProp(centered, lr=1e-3, beta=beta, centered=True)
    warm = int(10 / (1 - beta))
    sum_v = np.zeros(mu.size)
    sum_c = np.zeros(mu.size)
    trace_v, trace_c = [], []
    for t in range(warm + steps):
        g = mu + sigma * rng.standard_normal(mu.size)
        opt_plain.step(g)
        opt_centered.step(g)
        d_plain = np.sqrt(opt_plain.state[0]["square_avg"])
        st = opt_centered.state[0]
        d_centered = np.sqrt(np.maximum(st["square_avg"] - st["grad_avg"] ** 2, 0))
        trace_v.append(d_plain[-1])
        trace_c.append(d_centered[-1])
        if t >= warm:
            sum_v += d_plain
            sum_c += d_centered
    group = np.arange(mu.size) // per
    return MomentResult(
        beta=beta,
        ratios=ratios,
        uncentered=np.bincount(group, sum_v) / (per * steps * sigma),
        centered=np.bincount(group, sum_c) / (per * steps * sigma),
        trace_v=np.array(trace_v) / sigma,
        trace_c=np.array(trace_c) / sigma,
    )


# 8. Schedules compose ----------------------------------------------------------------


class SGD:
    """Plain stochastic gradient descent θ ← θ − γₜ·g, with the optimizers' step()."""

    def __init__(self, param, lr):
        self.param, self.lr, self.steps_taken = param, lr, 0

    def step(self, grad):
        gamma = self.lr(self.steps_taken) if callable(self.lr) else self.lr
        self.param -= gamma * grad
        self.steps_taken += 1
        return True


@dataclass
class ComposeResult:
    steps: int
    distance: dict  # name -> RMS distance to the minimum over the last 5 % of steps
    curves: dict = field(repr=False)  # name -> RMS distance per step


def schedules_compose(
    steps=2000, lr=0.1, sgd_lr=1.0, final_factor=0.01, per=100, seed=0
):
    """Noisy quadratic f = Σ ½aᵢ(θᵢ − ξᵢ)², ξ ~ N(0, 1), aᵢ ∈ {1, 10⁻², 10⁻⁴}.

    The gradient noise aᵢξᵢ scales with the curvature, as minibatch noise does. SGD
    is stable up to γ = 2/max a; with decay its flat axes never get going. RMSProp
    with a constant lr crosses all axes at the same speed but stops at a noise floor
    ∝ γ; the decayed lr γₜ = γ₀·final_factor^(t/steps) removes the floor.
    """
    a = np.repeat([1.0, 1e-2, 1e-4], per)
    decay = schedules.exponential_decay(lr, final_factor, steps)
    sgd_decay = schedules.exponential_decay(sgd_lr, final_factor, steps)
    makers = {
        "RMSProp + decay": lambda th: fastrmsprop.RMSProp(th, lr=decay),
        f"RMSProp lr={lr:g}": lambda th: fastrmsprop.RMSProp(th, lr=lr),
        f"RMSProp lr={lr * final_factor:g}": (
            lambda th: fastrmsprop.RMSProp(th, lr=lr * final_factor)
        ),
        "SGD + decay": lambda th: SGD(th, sgd_decay),
    }
    distance, curves = {}, {}
    for name, make in makers.items():
        rng = np.random.default_rng(seed)
        theta = np.full(a.size, 3.0)
        opt = make(theta)
        curve = np.empty(steps)
        for t in range(steps):
            opt.step(a * (theta - rng.standard_normal(a.size)))
            curve[t] = np.sqrt(np.mean(theta * theta))
        curves[name] = curve
        distance[name] = float(curve[-max(steps // 20, 1) :].mean())
    return ComposeResult(steps, distance, curves)


# Figures -----------------------------------------------------------------------------


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        sys.exit(
            "landscapes: the figures need matplotlib (pip install matplotlib); "
            "run with --no-plots for the table alone."
        )
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 8, "figure.dpi": 90, "savefig.dpi": 90})
    return plt


def plot_valley(results, path):
    """Contours with both paths at κ = 100, and the loss curves of every run."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    res = results[0]
    a1 = res.kappa
    x = np.linspace(-0.6, 0.6, 200)
    y = np.linspace(-0.2, 1.1, 200)
    xx, yy = np.meshgrid(x, y)
    axes[0].contour(xx, yy, a1 * xx**2 + yy**2, levels=12, colors="0.8")
    axes[0].plot(*res.gd_path[:300].T, ".-", ms=2, lw=0.6, label="GD (300 steps)")
    axes[0].plot(*res.rmsprop_path[:300].T, ".-", ms=2, lw=0.6, label="RMSProp")
    axes[0].set(title=f"κ = {a1:g}", xlabel="θ₁ (steep)", ylabel="θ₂ (flat)")
    axes[0].legend()
    for res in results:
        k = f"κ={res.kappa:g}"
        axes[1].loglog(np.arange(1, len(res.gd_loss) + 1), res.gd_loss, label=f"GD {k}")
        n = len(res.rmsprop_loss)
        axes[1].loglog(
            np.arange(1, n + 1), res.rmsprop_loss, label=f"RMSProp+decay {k}"
        )
        axes[1].loglog(
            np.arange(1, n + 1), res.constant_loss, ":", label=f"RMSProp const {k}"
        )
    axes[1].axhline(TOL, color="k", lw=0.5)
    axes[1].set(xlabel="step", ylabel="loss", ylim=(1e-12, 1e5))
    axes[1].legend(fontsize=6)
    _save(fig, path)


def plot_scale(res, path):
    """Paths on f and 10⁶·f, and their distance per step."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    x = np.linspace(-1.5, 1.5, 200)
    y = np.linspace(-0.5, 2.0, 200)
    xx, yy = np.meshgrid(x, y)
    zz = rosenbrock(np.stack([xx, yy], axis=-1))
    axes[0].contour(xx, yy, np.log10(zz + 1e-3), levels=15, colors="0.8")
    axes[0].plot(*res.rmsprop_path.T, "-", lw=2.5, alpha=0.5, label="RMSProp, f")
    axes[0].plot(*res.rmsprop_scaled_path.T, "k:", lw=1, label="RMSProp, 10⁶·f")
    axes[0].plot(*res.gd_path.T, "-", lw=1, label="GD, f")
    axes[0].plot(*res.gd_scaled_path[:3].T, "x--", lw=1, label="GD, 10⁶·f")
    axes[0].set(xlim=(-1.5, 1.5), ylim=(-0.5, 2.0), xlabel="x", ylabel="y")
    axes[0].legend(fontsize=6)
    n = len(res.gd_scaled_path)
    rms = np.abs(res.rmsprop_scaled_path - res.rmsprop_path).max(axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        gd = np.abs(res.gd_scaled_path - res.gd_path[:n]).max(axis=1)
    axes[1].semilogy(np.maximum(rms, 1e-18), label="RMSProp (0 drawn at 1e-18)")
    axes[1].semilogy(gd, "x-", label="GD (until it leaves 10⁶)")
    if res.drift_step is not None:
        axes[1].axvline(res.drift_step, color="0.6", lw=0.5)
    axes[1].set(xlabel="step", ylabel="‖θ(10⁶·f) − θ(f)‖∞", ylim=(1e-18, 1e12))
    axes[1].legend()
    _save(fig, path)


def plot_forgetting(res, path):
    """The ramp with where each optimizer ended, and x against step."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    x = np.linspace(-0.5, BASIN_MIN + 1.0, 400)
    axes[0].plot(x, ramp(x), "0.5")
    for i, (name, xs) in enumerate(res.paths.items()):
        # Decreasing sizes keep markers that land on the same point visible.
        axes[0].plot(xs[-1], ramp(xs[-1]), "o", ms=10 - 2 * i, label=name)
        axes[1].plot(xs, label=name)
    axes[0].set(xlabel="x", ylabel="f", title=f"where each is after {res.steps} steps")
    axes[0].legend(fontsize=6)
    axes[1].axhspan(STEEP_END, PLATEAU_END, color="0.92")
    axes[1].set(xlabel="step", ylabel="x", title="the shaded band is the plateau")
    _save(fig, path)


def plot_memory(results, path):
    """Fraction of the jump in v closed, against steps × (1 − β)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3))
    for res in results:
        t = np.arange(1, len(res.v_up) + 1)
        frac = (res.v_up - 1.0) / 99.0
        ax.plot(t * (1 - res.beta), frac, label=f"β = {res.beta}")
    u = np.linspace(0, 10, 200)
    ax.plot(u, 1 - np.exp(-u), "k:", label="1 − e^(−t(1−β))")
    ax.axhline(1 - 1 / math.e, color="0.6", lw=0.5)
    ax.set(xlim=(0, 5), xlabel="steps × (1 − β)", ylabel="fraction of the jump in v")
    ax.legend()
    _save(fig, path)


def plot_saddle(results, path):
    """|y| against step from y₀ = 1e-6, and escape steps against y₀."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    res = next(r for r in results if r.y0 == 1e-6)
    for name, p in (
        ("GD", res.gd_path),
        ("RMSProp", res.rmsprop_path),
        ("Adam", res.adam_path),
    ):
        axes[0].semilogy(np.abs(p[:, 1]), label=name)
    axes[0].axhline(ESCAPE, color="k", lw=0.5)
    axes[0].set(xlabel="step", ylabel="|y|", title="from (1, 10⁻⁶)")
    axes[0].legend()
    y0 = [r.y0 for r in results]
    for name, attr in (
        ("GD", "gd_steps"),
        ("RMSProp", "rmsprop_steps"),
        ("Adam", "adam_steps"),
    ):
        axes[1].semilogx(y0, [getattr(r, attr) for r in results], "o-", label=name)
    axes[1].set(xlabel="y₀", ylabel="steps to |y| ≥ 0.5")
    axes[1].legend()
    _save(fig, path)


def plot_spike(results, path):
    """RMS step after the spike relative to normal, with its formula."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3))
    for res in results:
        k = np.arange(len(res.ratio))
        ax.semilogy(k * (1 - res.beta), res.ratio, label=f"β = {res.beta}")
        boost = (1 - res.beta) * res.size**2 * res.beta**k
        ax.semilogy(k * (1 - res.beta), 1 / np.sqrt(1 + boost), "k:", lw=0.8)
    ax.axhline(0.9, color="0.6", lw=0.5)
    ax.set(
        xlabel="steps after the spike × (1 − β)",
        ylabel="RMS step / normal",
        title="dotted: 1/√(1 + (1−β)S²βᵏ)",
    )
    ax.legend()
    _save(fig, path)


def plot_moments(res, path):
    """Denominators over time at the largest μ/σ, and their means against μ/σ."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    r = res.ratios[-1]
    axes[0].plot(res.trace_v, lw=0.7, label="uncentered √v")
    axes[0].plot(res.trace_c, lw=0.7, label="centered √(v − m̄²)")
    axes[0].axhline(1.0, color="k", lw=0.5, label="σ")
    axes[0].axhline(math.hypot(r, 1), color="k", ls=":", lw=0.5, label="√(μ² + σ²)")
    axes[0].set(xlabel="step", ylabel="denominator / σ", title=f"μ/σ = {r:g}")
    axes[0].legend(fontsize=6)
    axes[1].plot(res.ratios, res.uncentered, "o", label="uncentered")
    axes[1].plot(res.ratios, res.centered, "s", label="centered")
    u = np.linspace(0, res.ratios.max(), 100)
    axes[1].plot(u, np.hypot(u, 1), "k:", lw=0.8, label="√(1 + (μ/σ)²)")
    axes[1].axhline(1.0, color="k", lw=0.5, label="σ")
    axes[1].set(xlabel="μ/σ", ylabel="mean denominator / σ")
    axes[1].legend(fontsize=6)
    _save(fig, path)


def plot_compose(res, path):
    """RMS distance to the minimum against step for each optimizer."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3))
    for name, curve in res.curves.items():
        ax.loglog(np.arange(1, len(curve) + 1), curve, label=name)
    ax.set(xlabel="step", ylabel="RMS distance to the minimum")
    ax.legend(fontsize=6)
    _save(fig, path)


def _save(fig, path):
    """Write ``fig`` to ``path`` and free it."""
    fig.tight_layout()
    fig.savefig(path)
    import matplotlib.pyplot as plt

    plt.close(fig)


# Table -------------------------------------------------------------------------------


def run_all():
    """Every experiment at the settings of docs/landscapes.md, as a dict."""
    return {
        "valley": [valley(100.0), valley(1e4)],
        "scale": scale_invariance(),
        "forgetting": forgetting(),
        "memory": [memory_span(b) for b in (0.9, 0.99, 0.999)],
        "saddle": [saddle(y0) for y0 in (1e-3, 1e-6, 1e-9)],
        "spike": [spike(0.9), spike(0.99)],
        "moments": mean_vs_variance(),
        "compose": schedules_compose(),
    }


def table(results):
    """The measured numbers as text lines."""
    out = []
    add = out.append
    add("1. anisotropic valley, steps to f < 1e-6 from (0.5, 1)")
    for r in results["valley"]:
        add(
            f"   κ={r.kappa:<7g} GD(γ=1/(a₁+a₂)) {r.gd_steps:>6}   "
            f"RMSProp+decay {r.rmsprop_steps:>4} (first {r.rmsprop_first_hit})   "
            f"κ_eff {r.kappa_eff:.2f} (√κ {math.sqrt(r.kappa):g})"
        )
        add(
            f"   {'':9} RMSProp const lr: first < tol at {r.constant_first_hit}, "
            f"then floor {r.constant_floor:.3g} (theory {r.constant_floor_theory:.3g})"
        )
    r = results["scale"]
    add(f"2. scale invariance, Rosenbrock × {r.scale:g}, max |Δθ| in {r.steps} steps")
    add(
        f"   RMSProp ε=1e-30 {r.rmsprop_max_diff:.2g}, "
        f"ε=1e-8 {r.default_eps_diff:.2g}; × 2²⁰ bitwise equal: {r.pow2_identical}; "
        f"×1e6 drifts at {r.drift_step}"
    )
    add(f"   GD (γ=1e-3) on 1e6·f leaves |θ| ≤ 1e6 at step {r.gd_diverged_at}")
    r = results["forgetting"]
    add(f"3. steep entry + plateau, lr {r.lr}, distance after {r.steps} steps")
    for name, d in r.distance.items():
        add(f"   {name:<16} {d:7.3f}   plateau exit at {r.plateau_exit[name]}")
    for beta, k in r.recovery.items():
        add(
            f"   RMSProp β={beta}: step back to γ/2 after {k} plateau steps "
            f"(theory {r.recovery_theory[beta]:.1f}; 1/(1−β) = {1 / (1 - beta):g})"
        )
    add("4. memory span: steps for v to close 1 − 1/e of a jump (up / down)")
    for r in results["memory"]:
        add(
            f"   β={r.beta:<6} {r.steps_up:>5} / {r.steps_down:<5} "
            f"theory ⌈−1/ln β⌉ = {r.theory}, 1/(1−β) = {r.horizon:g}"
        )
    add("5. saddle x² − 0.1y² + 0.05y⁴ from (1, y₀): steps to |y| ≥ 0.5")
    for r in results["saddle"]:
        add(
            f"   y₀={r.y0:<6g} GD(γ=0.5) {r.gd_steps:>4} (linear theory "
            f"{r.gd_theory:.0f})   RMSProp(γ=0.01) {r.rmsprop_steps:>3}   "
            f"Adam(γ=0.01) {r.adam_steps:>3}"
        )
    add("6. spike of 1e3 × in N(0,1) gradients: RMS step relative to normal")
    for r in results["spike"]:
        add(
            f"   β={r.beta:<5} on spike {r.spike_step:.2f}  min {r.collapse:.4f}  "
            f"back to 90 % after {r.recovery} steps (theory "
            f"{r.recovery_theory:.0f}) = {r.recovery * (1 - r.beta):.1f}/(1−β)"
        )
    r = results["moments"]
    add(f"7. mean vs variance, β={r.beta}: mean denominator / σ")
    add("   μ/σ        " + " ".join(f"{x:6g}" for x in r.ratios))
    add("   uncentered " + " ".join(f"{x:6.3f}" for x in r.uncentered))
    add("   centered   " + " ".join(f"{x:6.3f}" for x in r.centered))
    r = results["compose"]
    add(f"8. noisy quadratic, RMS distance to the minimum after {r.steps} steps")
    for name, d in r.distance.items():
        add(f"   {name:<20} {d:.4f}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="landscapes-figures", help="figure folder")
    parser.add_argument("--no-plots", action="store_true", help="only the table")
    args = parser.parse_args(argv)

    results = run_all()
    print("\n".join(table(results)))
    if args.no_plots:
        return

    _pyplot()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_valley(results["valley"], out / "landscapes_valley.png")
    plot_scale(results["scale"], out / "landscapes_scale.png")
    plot_forgetting(results["forgetting"], out / "landscapes_forgetting.png")
    plot_memory(results["memory"], out / "landscapes_memory.png")
    plot_saddle(results["saddle"], out / "landscapes_saddle.png")
    plot_spike(results["spike"], out / "landscapes_spike.png")
    plot_moments(results["moments"], out / "landscapes_moments.png")
    plot_compose(results["compose"], out / "landscapes_compose.png")
    print(f"figures in {out}/")


if __name__ == "__main__":
    main()
