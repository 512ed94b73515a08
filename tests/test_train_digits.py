"""Tests of the digits training example: its gradients, its accuracy and its CLI."""

import importlib.util
import inspect
import pathlib
import sys

import numpy as np
import pytest

import fastrmsprop

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "examples" / "train_digits.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("train_digits", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up by name while the script is being executed.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


train_digits = _load_script()
OPTIMIZER_NAMES = sorted(train_digits.OPTIMIZERS)


@pytest.fixture
def sklearn():
    # scikit-learn is the optional "examples" extra; it ships the digits data set.
    return pytest.importorskip("sklearn")


def test_backward_matches_finite_differences():
    # float64 and a tiny network, so that central differences are accurate to ~1e-8.
    rng = np.random.default_rng(1)
    params = train_digits.init_params([5, 7, 6, 3], rng, dtype=np.float64)
    for p in params[1::2]:
        p[...] = rng.standard_normal(p.shape) * 0.1  # nonzero biases get tested too
    x = rng.standard_normal((4, 5))
    labels = np.array([0, 2, 1, 2])
    _, grads = train_digits.loss_and_grads(params, x, labels)
    h = 1e-6
    for p, g in zip(params, grads):
        numeric = np.empty_like(p)
        for index in np.ndindex(p.shape):
            saved = p[index]
            p[index] = saved + h
            up, _ = train_digits.loss_and_grads(params, x, labels)
            p[index] = saved - h
            down, _ = train_digits.loss_and_grads(params, x, labels)
            p[index] = saved
            numeric[index] = (up - down) / (2 * h)
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-8)


def test_softmax_cross_entropy_by_hand():
    logits = np.array([[0.0, np.log(3.0)], [5.0, 5.0]])
    loss, dlogits = train_digits.softmax_cross_entropy(logits, np.array([1, 0]))
    # Row 0: softmax (1/4, 3/4), loss -log(3/4); row 1: (1/2, 1/2), loss log 2.
    assert loss == pytest.approx((-np.log(0.75) + np.log(2.0)) / 2)
    expected = np.array([[0.25, -0.25], [-0.5, 0.5]]) / 2
    np.testing.assert_allclose(dlogits, expected, atol=1e-15)


def test_every_optimizer_class_is_offered():
    offered = {cls for cls, _ in train_digits.OPTIMIZERS.values()}
    exported = {
        obj
        for name in getattr(fastrmsprop, "__all__", dir(fastrmsprop))
        if inspect.isclass(obj := getattr(fastrmsprop, name))
        and callable(getattr(obj, "step", None))
        and not inspect.isabstract(obj)
    }
    assert offered == exported


@pytest.mark.parametrize("optimizer", OPTIMIZER_NAMES)
def test_short_run_reaches_accuracy(sklearn, optimizer):
    # hidden 256 for 15 epochs lands at 0.967-0.981 over seeds 0-9 for every optimizer.
    config = train_digits.TrainConfig(
        optimizer=optimizer, hidden=256, epochs=15, seed=0, reference_every=5
    )
    result = train_digits.train(config)
    assert result.n_params == 64 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert result.final_accuracy > 0.95
    assert len(result.kernel_step_seconds) == len(result.reference_step_seconds) > 0
    # One step moves a weight by about lr = 1e-3 (1e-2 for Adagrad); float32 rounding
    # of one step is near 1e-8. A wrong formula shows up far above this bound.
    assert result.max_abs_diff < 1e-5


@pytest.mark.parametrize("optimizer", OPTIMIZER_NAMES)
def test_loss_decreases_every_epoch(sklearn, optimizer):
    config = train_digits.TrainConfig(
        optimizer=optimizer, hidden=64, epochs=3, seed=0, reference_every=0
    )
    result = train_digits.train(config)
    losses = [result.initial_loss] + [log.train_loss for log in result.epochs]
    assert all(np.isfinite(losses))
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses


@pytest.mark.parametrize("preset", sorted(fastrmsprop.presets.PRESETS))
def test_loss_decreases_with_each_preset(sklearn, preset):
    config = train_digits.TrainConfig(
        preset=preset, hidden=64, epochs=3, seed=0, reference_every=0
    )
    result = train_digits.train(config)
    losses = [result.initial_loss] + [log.train_loss for log in result.epochs]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses


def test_preset_is_refused_for_other_optimizers(sklearn):
    config = train_digits.TrainConfig(optimizer="adam", preset="torch", epochs=1)
    with pytest.raises(ValueError, match="^preset"):
        train_digits.train(config)
    with pytest.raises(SystemExit):
        train_digits.parse_args(["--optimizer", "adam", "--preset", "torch"])


def test_threads_options_are_restored(sklearn):
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before, blas_before = fastrmsprop.get_num_threads(), blas_threads()
    config = train_digits.TrainConfig(hidden=32, epochs=1, threads=1, blas_threads=1)
    train_digits.train(config)
    assert fastrmsprop.get_num_threads() == before
    assert blas_threads() == blas_before


def test_blas_threads_zero_means_unchanged():
    assert train_digits.parse_args(["--blas-threads", "0"]).blas_threads is None
    assert train_digits.parse_args([]).blas_threads == 1


def test_main_prints_epochs_and_summary(sklearn, capsys):
    argv = ["--optimizer", "adagrad", "--epochs", "2", "--hidden", "32", "--lr", "0.02"]
    train_digits.main(argv)
    out = capsys.readouterr().out
    epochs = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 2
    assert all("held-out acc" in line for line in epochs)
    assert "speed-up (reference / kernel)" in out
    assert "final held-out accuracy" in out


@pytest.mark.slow
def test_default_run_reaches_target(sklearn):
    result = train_digits.train(train_digits.TrainConfig())
    assert result.n_params >= 1_000_000
    assert result.final_accuracy > train_digits.ACCURACY_TARGET
    assert result.max_abs_diff < 1e-5
