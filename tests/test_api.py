"""The public surface: backend selection, introspection, environment switches, the
fallback to the reference, and the optimizer classes' own behaviour."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastrmsprop
from fastrmsprop import reference, schedules

FORCED_NUMPY = os.environ.get("FASTRMSPROP_BACKEND", "").lower() == "numpy"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    if "FASTRMSPROP_BACKEND" not in env:
        environment.pop("FASTRMSPROP_BACKEND", None)
    return subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning:fastrmsprop", "-c",
         textwrap.dedent(code)],
        capture_output=True, text=True, env=environment, timeout=120,
    )  # fmt: skip


def test_installed_build_uses_the_kernels():
    if FORCED_NUMPY:
        assert fastrmsprop.backend() == "numpy"
        return
    # A build that silently fell back to NumPy must fail the suite, not pass it.
    assert fastrmsprop.backend() == "cpp", fastrmsprop.build_info()
    info = fastrmsprop.build_info()
    assert info["simd_level"] in info["available_simd_levels"]
    assert info["available_simd_levels"][0] == "scalar"
    assert set(info["available_simd_levels"]) <= set(info["compiled_simd_levels"])


@pytest.mark.skipif(FORCED_NUMPY, reason="needs the compiled kernels")
def test_set_simd_level_refuses_unknown_and_unavailable_levels(
    restore_backend_settings,
):
    with pytest.raises(ValueError, match="unknown name 'sse9'"):
        fastrmsprop.set_simd_level("sse9")
    missing = {"scalar", "avx2", "avx512"} - set(fastrmsprop.available_simd_levels())
    for level in missing:
        with pytest.raises(ValueError, match="not available"):
            fastrmsprop.set_simd_level(level)
    for level in fastrmsprop.available_simd_levels():
        fastrmsprop.set_simd_level(level)
        assert fastrmsprop.simd_level() == level


@pytest.mark.skipif(FORCED_NUMPY, reason="needs the compiled kernels")
def test_thread_count_round_trips_and_rejects_zero(restore_backend_settings):
    fastrmsprop.set_num_threads(1)
    assert fastrmsprop.get_num_threads() == 1
    with pytest.raises(ValueError, match="n: expected a thread count >= 1"):
        fastrmsprop.set_num_threads(0)
    with pytest.raises(TypeError, match="n: expected an int"):
        fastrmsprop.set_num_threads(1.5)


@pytest.mark.skipif(FORCED_NUMPY, reason="needs the compiled kernels")
def test_environment_forces_an_available_level_and_refuses_a_missing_one():
    for level in fastrmsprop.available_simd_levels():
        done = run_python(
            "import fastrmsprop; print(fastrmsprop.simd_level())",
            FASTRMSPROP_SIMD=level,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == level
    for level in {"avx2", "avx512"} - set(fastrmsprop.available_simd_levels()):
        done = run_python("import fastrmsprop", FASTRMSPROP_SIMD=level)
        assert done.returncode != 0
        assert f"FASTRMSPROP_SIMD={level}" in done.stderr
        assert "not available" in done.stderr


def test_environment_forces_the_reference():
    code = """
        import numpy as np, fastrmsprop
        assert fastrmsprop.backend() == "numpy", fastrmsprop.backend()
        p = np.ones(3); v = np.zeros(3)
        fastrmsprop.rmsprop_step(p, np.full(3, 1e-6), v, lr=1e-2)
        print(float(p[0]))
    """
    done = run_python(code, FASTRMSPROP_BACKEND="numpy")
    assert done.returncode == 0, done.stderr
    # Hand-computed: eps outside the root, v = 1e-14, u = 1e-6 / (1e-7 + 1e-8).
    assert float(done.stdout) == pytest.approx(0.9090909091, abs=1e-9)
    assert done.stderr == ""


def test_missing_extension_falls_back_and_warns_once_with_build_hint():
    code = """
        import sys, warnings
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "fastrmsprop._core":
                    raise ImportError("no compiled module (simulated)")
        sys.meta_path.insert(0, Block())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import fastrmsprop
            import fastrmsprop.functional
        import numpy as np
        p = np.ones(2, np.float32); v = np.zeros(2, np.float32)
        fastrmsprop.RMSProp(p, lr=0.01).step(np.ones(2, np.float32))
        print(fastrmsprop.backend(), len(caught), p[0])
        print(caught[0].message)
    """
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    first, message = done.stdout.splitlines()[:2]
    backend, warnings_seen, value = first.split()
    assert backend == "numpy"
    assert warnings_seen == "1"
    # g = 1: v = 0.01, step 0.01 * 1 / (0.1 + 1e-8) = 0.0999999990 -> p = 0.9.
    assert float(value) == pytest.approx(0.9, abs=1e-6)
    assert "pip install ." in message


def test_tf1_preset_class_matches_hand_computed_value():
    # square_avg starts at 1: v = 0.9 + 0.1 * 0.01 = 0.901, step 0.01*0.1/sqrt(0.901).
    p = np.ones(1)
    opt = fastrmsprop.RMSProp(p, preset="tf1", lr=1e-2)
    assert opt.state[0]["square_avg"][0] == 1.0
    opt.step(np.full(1, 0.1))
    assert p[0] == pytest.approx(0.9989464926, abs=1e-9)


def test_unknown_preset_and_bad_hyperparameters_name_the_argument():
    p = np.ones(2, np.float32)
    with pytest.raises(ValueError, match="preset"):
        fastrmsprop.RMSProp(p, preset="caffe")
    with pytest.raises(ValueError, match="beta"):
        fastrmsprop.RMSProp(p, beta=1.5)
    with pytest.raises(ValueError, match="nesterov"):
        fastrmsprop.RMSProp(p, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        fastrmsprop.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        fastrmsprop.Adagrad(p, initial_accumulator_value=-0.1)
    with pytest.raises(TypeError, match=r"params\[1\]"):
        fastrmsprop.Adam([p, np.ones(2, np.int32)])
    assert np.all(p == 1)


def test_lr_can_change_between_steps_and_follow_a_schedule():
    p_fixed = np.ones(4)
    p_changed = np.ones(4)
    g = np.full(4, 0.5)
    fixed = fastrmsprop.RMSProp(p_fixed, lr=0.1)
    changed = fastrmsprop.RMSProp(p_changed, lr=schedules.step_decay(0.1, 1, 0.5))
    manual = [np.ones(4), np.zeros(4)]
    for lr in (0.1, 0.05, 0.025):
        reference.rmsprop_step(manual[0], g, manual[1], lr=lr)
        changed.step(g)
        fixed.step(g)
        fixed.lr = fixed.lr / 2
    np.testing.assert_allclose(p_changed, manual[0], rtol=1e-12)
    np.testing.assert_allclose(p_fixed, manual[0], rtol=1e-12)
    assert changed.current_lr() == pytest.approx(0.0125)


def test_schedule_returning_a_bad_lr_raises_before_writing():
    p = np.ones(3)
    opt = fastrmsprop.Adam(p, lr=lambda t: 1e-3 if t == 0 else float("nan"))
    opt.step(np.ones(3))
    before = p.copy(), opt.state[0]["exp_avg"].copy()
    with pytest.raises(ValueError, match="lr"):
        opt.step(np.ones(3))
    np.testing.assert_array_equal(p, before[0])
    np.testing.assert_array_equal(opt.state[0]["exp_avg"], before[1])
    assert opt.state[0]["step"] == 1


@pytest.mark.parametrize(
    "cls",
    [fastrmsprop.RMSProp, fastrmsprop.Adagrad, fastrmsprop.Adam, fastrmsprop.AdamW],
)
def test_state_dict_round_trip_through_savez_and_pickle(cls, tmp_path):
    rng = np.random.default_rng(3)
    grads = [
        [
            rng.standard_normal((3, 2)).astype(np.float32),
            rng.standard_normal(5).astype(np.float32),
        ]
        for _ in range(4)
    ]
    kwargs = {"momentum": 0.9, "centered": True} if cls is fastrmsprop.RMSProp else {}
    params = [np.ones((3, 2), np.float32), np.ones(5, np.float32)]
    opt = cls(params, **kwargs)
    for g in grads[:2]:
        opt.step(g)
    np.savez(tmp_path / "state.npz", **opt.state_dict())
    pickled = pickle.dumps(opt.state_dict())
    for g in grads[2:]:
        opt.step(g)

    for source in (dict(np.load(tmp_path / "state.npz")), pickle.loads(pickled)):
        resumed = [np.ones((3, 2), np.float32), np.ones(5, np.float32)]
        fresh = cls(resumed, **kwargs)
        fresh.load_state_dict(source)
        # The params are the caller's; restore them as a checkpoint would.
        replay = cls([np.ones((3, 2), np.float32), np.ones(5, np.float32)], **kwargs)
        for g in grads[:2]:
            replay.step(g)
        for r, q in zip(resumed, replay.params):
            r[...] = q
        for g in grads[2:]:
            fresh.step(g)
        for a, b in zip(resumed, params):
            assert a.tobytes() == b.tobytes()
        assert fresh.steps_taken == opt.steps_taken == 4


def test_readme_usage_snippets_run():
    """The README's first two Python examples run as pasted, in order."""
    readme = Path(__file__).resolve().parent.parent / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text("utf-8"), re.S)
    namespace: dict = {}
    exec(compile(blocks[0] + blocks[1], str(readme), "exec"), namespace)
    params = namespace["params"]
    assert all(np.isfinite(p).all() for p in params)
    assert np.abs(params[0]).max() > 0  # the steps moved the params
