"""The claims of docs/landscapes.md, measured by examples/landscapes.py.

Each test runs the same function that prints the table and asserts its numbers
against bounds that follow from the update rule, with the argument in a comment.
Seeds are fixed; matplotlib is not needed.
"""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "examples" / "landscapes.py"


def _load():
    spec = importlib.util.spec_from_file_location("landscapes", _PATH)
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve their annotations through sys.modules.
    sys.modules["landscapes"] = module
    spec.loader.exec_module(module)
    return module


L = _load()


@pytest.fixture(scope="module")
def valleys():
    return {kappa: L.valley(kappa) for kappa in (100.0, 1e4)}


@pytest.mark.parametrize("kappa", [100.0, 1e4], ids=["kappa=1e2", "kappa=1e4"])
def test_valley_gd_matches_its_contraction_rate(valleys, kappa):
    # With γ = 1/(a₁ + a₂) both axes contract by r = (κ − 1)/(κ + 1) per step, so
    # f(θₜ) = r²ᵗ·f(θ₀) and GD needs ⌈ln(f₀/tol)/(2 ln(1/r))⌉ steps: the baseline
    # is checked against the hand count, not just run.
    res = valleys[kappa]
    f0 = kappa * 0.5**2 + 1.0
    r = (kappa - 1) / (kappa + 1)
    expected = math.ceil(math.log(f0 / L.TOL) / (2 * math.log(1 / r)))
    assert abs(res.gd_steps - expected) <= 1


def test_valley_rmsprop_steps_do_not_grow_with_kappa(valleys):
    # On a diagonal quadratic g/√v = 2aᵢθᵢ/√EMA(4aᵢ²θᵢ²) does not depend on aᵢ, so
    # each axis of RMSProp moves the same whatever κ is (ε aside); only the last
    # factor a₁ of the loss changes, worth a step or two at this convergence rate.
    # GD's count grows like κ: 100× from κ = 1e2 to 1e4 (±30 % for the log term).
    small, large = valleys[100.0], valleys[1e4]
    assert large.rmsprop_steps <= small.rmsprop_steps + 5
    assert 70 <= large.gd_steps / small.gd_steps <= 130
    # Hence far fewer steps: already at κ = 100 less than half, at 1e4 over 100×.
    assert small.rmsprop_steps < small.gd_steps / 2
    assert large.rmsprop_steps < large.gd_steps / 100
    # Once below the tolerance, the decaying lr keeps it there (first hit = stays).
    assert large.rmsprop_steps == large.rmsprop_first_hit


@pytest.mark.parametrize("kappa", [100.0, 1e4], ids=["kappa=1e2", "kappa=1e4"])
def test_valley_effective_condition_number(valleys, kappa):
    # hᵢ = 2aᵢ/(√vᵢ + ε) with vᵢ ∝ aᵢ²: the aᵢ cancel, so κ_eff depends on the start
    # θ₀ = (0.5, 1), not on κ, and is at most √κ (the claim), here far below it.
    res = valleys[kappa]
    assert res.kappa_eff <= math.sqrt(kappa)
    assert res.kappa_eff == pytest.approx(valleys[100.0].kappa_eff, rel=1e-6)


@pytest.mark.parametrize("kappa", [100.0, 1e4], ids=["kappa=1e2", "kappa=1e4"])
def test_valley_constant_lr_ends_in_a_limit_cycle(valleys, kappa):
    # With a constant lr each axis ends oscillating between ±γ/2 (there g/√v → ±1,
    # so each step is γ), a loss of (a₁ + a₂)·γ²/4; it does not stay below 1e-6.
    res = valleys[kappa]
    assert res.constant_loss[-1] > L.TOL
    assert res.constant_floor == pytest.approx(res.constant_floor_theory, rel=0.25)


def test_scale_invariance():
    res = L.scale_invariance()
    # Only the rounding of g·10⁶ separates the runs (ε = 1e-30 vanishes next to
    # √v); relative errors of 1e-16 per step stay far below 1e-12 in 400 steps.
    assert res.rmsprop_max_diff < 1e-12
    # A power-of-two scale is exact in every operation (product, square, root,
    # quotient), and ε below half an ulp of √v is absorbed: bitwise equal.
    assert res.pow2_identical
    # The default ε = 1e-8 is a relative perturbation of about ε/√v per step.
    assert res.default_eps_diff < 1e-6
    # GD: the largest curvature at the start is about 1.3e3, so γ = 1e-3 on 1e6·f
    # multiplies the error by about 1e6 per step; |θ| passes 1e6 within 3 steps.
    assert res.gd_diverged_at is not None and res.gd_diverged_at <= 3


@pytest.fixture(scope="module")
def forgetting():
    return L.forgetting()


def test_forgetting_adagrad_stalls(forgetting):
    # After the steep entry s ≥ 1, so Adagrad's plateau step is at most
    # γ·10⁻³ = 1e-4: 1500 steps move it at most 0.15 beyond the entry, itself
    # overshot by at most one step γ·|g|/√s ≤ γ = 0.1.
    assert forgetting.distance["Adagrad"] < 1.0 + 0.1 + 0.15
    assert forgetting.plateau_exit["Adagrad"] is None
    # Adam's β₂ = 0.999 needs about ln(v/3g²)/(1 − β₂) ≈ 7000 steps to forget.
    assert forgetting.plateau_exit["Adam"] is None


@pytest.mark.parametrize("beta", [0.9, 0.99])
def test_forgetting_rmsprop_crosses(forgetting, beta):
    name = f"RMSProp β={beta}"
    # It reaches the basin and oscillates there within γ/2 = 0.05 of x = 22.
    assert forgetting.distance[name] == pytest.approx(L.BASIN_MIN, abs=0.06)
    # The step is back to γ/2 when v = βᵏ·v_entry + (1 − βᵏ)g² falls to 4g², i.e.
    # after ln(v_entry/(3g²))/(−ln β) steps; the (1 − βᵏ) term is 3e-6 of v_entry.
    recovery = forgetting.recovery[beta]
    assert recovery == pytest.approx(forgetting.recovery_theory[beta], abs=2)
    # In memory spans 1/(1 − β) that is about ln(v_entry/3g²): v_entry lies between
    # (1 − β)·1 (one steep step) and 1, so between ln((1 − β)/3e-6) ≥ 8 and 12.7.
    assert 5 <= recovery * (1 - beta) <= 15


@pytest.mark.parametrize("beta", [0.9, 0.99, 0.999])
def test_memory_span(beta):
    # v starts at its stationary value, so vₖ − v∞ = βᵏ(v₀ − v∞) exactly: within
    # 1/e after k = ⌈−1/ln β⌉ steps, up or down; −1/ln β = 1/(1 − β) − 1/2 + O(1 − β).
    res = L.memory_span(beta)
    expected = math.ceil(-1 / math.log(beta))
    assert res.steps_up == expected
    assert res.steps_down == expected
    assert abs(res.steps_up - 1 / (1 - beta)) <= 1


@pytest.fixture(scope="module")
def saddles():
    return [L.saddle(y0) for y0 in (1e-3, 1e-6, 1e-9)]


def test_saddle_gd_follows_the_linear_rate(saddles):
    # Near the saddle GD multiplies y by 1 + 2bγ = 1.1; the quartic only slows the
    # growth, and only near |y| = 0.5 (by 25 % there), costing a few steps.
    for res in saddles:
        assert res.gd_theory <= res.gd_steps + 1 <= res.gd_theory + 6


def test_saddle_rmsprop_escapes_fast(saddles):
    # With constant g the y-steps are γ/√(1 − βᵗ): 0.1, 0.071, 0.058, ...; they sum
    # to 0.5 in 10 steps, and a growing g only makes g/√v larger. GD needs ≥ 65.
    for res in saddles:
        assert res.rmsprop_steps <= 10
        assert res.gd_steps >= 5 * res.rmsprop_steps
    # GD's count grows like ln(1/y₀); RMSProp's hardly moves over six decades.
    counts = [res.rmsprop_steps for res in saddles]
    assert max(counts) - min(counts) <= 2
    assert saddles[-1].gd_steps - saddles[0].gd_steps >= 100


@pytest.mark.parametrize("beta", [0.9, 0.99])
def test_spike(beta):
    res = L.spike(beta)
    size = res.size
    # On the spike itself the step is S/√(β·v + (1 − β)S²) ≈ 1/√(1 − β): bounded.
    assert res.spike_step == pytest.approx(1 / math.sqrt(1 - beta), rel=0.1)
    # Right after it v ≈ 1 + (1 − β)S²β: the step collapses to ≈ 1/√ of that.
    expected = 1 / math.sqrt(1 + (1 - beta) * size**2 * beta)
    assert res.collapse == pytest.approx(expected, rel=0.2)
    # Back to 90 % when (1 − β)S²βᵏ = 1/0.9² − 1; the noise in v moves it by a few
    # per cent (Jensen: E[g²/v] is not 1/E[v]).
    assert res.recovery == pytest.approx(res.recovery_theory, rel=0.05)
    # ln((1 − β)S²/0.235) = 13.0 and 10.7: the 1/(1 − β) timescale times ~10.
    assert 8 <= res.recovery * (1 - beta) <= 15


def test_mean_vs_variance():
    res = L.mean_vs_variance()
    beta = res.beta
    # E[v] = μ² + σ²; √ of a well-averaged v (relative spread ~ √(1 − β)) is
    # within a few per cent of √E[v].
    np.testing.assert_allclose(res.uncentered, np.hypot(res.ratios, 1), rtol=0.03)
    # E[v − m̄²] = σ² − Var(m̄) = σ²·2β/(1 + β), whatever μ is.
    np.testing.assert_allclose(
        res.centered, math.sqrt(2 * beta / (1 + beta)), rtol=0.03
    )
    assert res.uncentered[-1] / res.centered[-1] > 7


def test_schedules_compose():
    res = L.schedules_compose()
    d = res.distance
    best = d["RMSProp + decay"]
    # The constant-lr floor has spread √(γs/2) per axis (0.22 at γ = 0.1); the decay
    # divides γ by 100, the floor by up to 10, minus what lag it leaves: ≥ 4×.
    assert best < d["RMSProp lr=0.1"] / 4
    # A constant lr of 1e-3 moves about γ per step: 2000 steps cannot cross 3.
    assert best < d["RMSProp lr=0.001"] / 10
    # SGD with the same decay: the axis a = 1e-4 contracts by exp(−a·Σγₜ) with
    # Σγₜ ≈ 430, i.e. hardly at all, so it stays near its start 3.
    assert best < d["SGD + decay"] / 10
