"""Concurrency: Python threads stepping optimizers at once never corrupt a result.

The kernels release the GIL, so steps from several Python threads overlap. Different
optimizers (and functional calls on different arrays) stepped at once must give the
results of running them one after another, bit for bit; one optimizer stepped from
several threads at once must equal the same number of serial steps, because each
optimizer holds a lock around its step.
"""

from __future__ import annotations

import threading

import ml_dtypes
import numpy as np
import pytest

import fastrmsprop

THREADS = 4
STEPS = 12
# Large enough that a step takes a while with the GIL released, and that the
# library's own threads split a tensor.
BIG = 3 * 32768 + 5
CLASSES = [
    ("RMSProp", {"lr": 1e-2, "momentum": 0.9, "centered": True}),
    ("Adagrad", {"lr": 1e-2, "lr_decay": 0.01}),
    ("Adam", {"lr": 1e-3, "amsgrad": True}),
    ("AdamW", {"lr": 1e-3, "weight_decay": 0.1}),
]
DTYPES = [np.float32, ml_dtypes.bfloat16, np.float64, np.float16]


# Tests here switch the SIMD level and thread count; the fixture puts them back.
pytestmark = pytest.mark.usefixtures("restore_backend_settings")


def run_together(jobs) -> None:
    """Run every job in its own thread, started together; re-raise any failure."""
    barrier = threading.Barrier(len(jobs))
    errors = []

    def wrap(job):
        try:
            barrier.wait()
            job()
        except Exception as error:  # noqa: BLE001 - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=wrap, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def setup(index: int):
    """Params, per-step grads (some strided) and the optimizer of job ``index``."""
    rng = np.random.default_rng(100 + index)
    cls, options = CLASSES[index % len(CLASSES)]
    dtype = DTYPES[index % len(DTYPES)]
    shapes = [(BIG,), (17,), (64, 33)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = []
    for _ in range(STEPS):
        step = [rng.standard_normal(s).astype(dtype) for s in shapes]
        # A transposed grad goes through the contiguous-copy path.
        step[2] = np.ascontiguousarray(step[2].T).T
        grads.append(step)
    opt = getattr(fastrmsprop, cls)(params, **options)
    return params, grads, opt


def final_bytes(params, opt) -> list:
    state = [
        v.tobytes() if isinstance(v, np.ndarray) else v
        for entry in opt.state
        for _, v in sorted(entry.items())
    ]
    return [p.tobytes() for p in params] + state + [opt.steps_taken]


@pytest.mark.parametrize("lib_threads", [1, 2])
def test_different_optimizers_at_once_equal_one_after_another(lib_threads):
    fastrmsprop.set_num_threads(lib_threads)
    serial = []
    for index in range(THREADS):
        params, grads, opt = setup(index)
        for g in grads:
            opt.step(g)
        serial.append(final_bytes(params, opt))

    jobs = [setup(index) for index in range(THREADS)]

    def job(_params, grads, opt):
        return lambda: [opt.step(g) for g in grads]

    run_together([job(*j) for j in jobs])
    for index, (params, _, opt) in enumerate(jobs):
        assert final_bytes(params, opt) == serial[index], f"job {index}"


@pytest.mark.parametrize("lib_threads", [1, 2])
def test_functional_calls_at_once_equal_one_after_another(lib_threads):
    fastrmsprop.set_num_threads(lib_threads)
    rng = np.random.default_rng(7)

    def arrays(seed):
        r = np.random.default_rng(seed)
        params = [r.standard_normal(n).astype(np.float32) for n in (BIG, 9, 1000)]
        grads = [r.standard_normal(n).astype(np.float32)[::-1] for n in (BIG, 9, 1000)]
        square_avgs = [np.zeros_like(p) for p in params]
        buffers = [np.zeros_like(p) for p in params]
        return params, grads, square_avgs, buffers

    def step(params, grads, square_avgs, buffers):
        for _ in range(STEPS):
            fastrmsprop.rmsprop_step(
                params,
                grads,
                square_avgs,
                lr=1e-2,
                momentum=0.9,
                momentum_buffers=buffers,
            )

    seeds = [int(s) for s in rng.integers(0, 2**31, size=THREADS)]
    serial = []
    for seed in seeds:
        a = arrays(seed)
        step(*a)
        serial.append([x.tobytes() for group in a for x in group])
    together = [arrays(seed) for seed in seeds]
    run_together([lambda a=a: step(*a) for a in together])
    for index, a in enumerate(together):
        assert [x.tobytes() for group in a for x in group] == serial[index]


@pytest.mark.parametrize("cls,options", CLASSES, ids=[c for c, _ in CLASSES])
def test_one_optimizer_from_many_threads_equals_serial_steps(cls, options):
    """Same grads every step, so any serial order gives the same bytes."""
    rng = np.random.default_rng(11)
    start = [rng.standard_normal(n).astype(np.float32) for n in (BIG, 33)]
    grads = [rng.standard_normal(n).astype(np.float32) for n in (BIG, 33)]

    serial_params = [p.copy() for p in start]
    serial = getattr(fastrmsprop, cls)(serial_params, **options)
    for _ in range(THREADS * STEPS):
        assert serial.step(grads) is True

    shared_params = [p.copy() for p in start]
    shared = getattr(fastrmsprop, cls)(shared_params, **options)
    run_together([lambda: [shared.step(grads) for _ in range(STEPS)]] * THREADS)
    assert shared.steps_taken == THREADS * STEPS
    assert final_bytes(shared_params, shared) == final_bytes(serial_params, serial)


def test_state_dict_taken_during_steps_is_consistent():
    """A state dict read while another thread steps matches one step count exactly."""
    rng = np.random.default_rng(13)
    start = rng.standard_normal(BIG).astype(np.float32)
    grads = rng.standard_normal(BIG).astype(np.float32)
    total = 40

    twin = fastrmsprop.Adam(start.copy(), lr=1e-3)
    by_step = {0: twin.state_dict()}
    for t in range(1, total + 1):
        twin.step(grads)
        by_step[t] = twin.state_dict()

    opt = fastrmsprop.Adam(start.copy(), lr=1e-3)
    seen = []
    done = threading.Event()

    def stepper():
        for _ in range(total):
            opt.step(grads)
        done.set()

    def reader():
        while not done.is_set():
            seen.append(opt.state_dict())

    run_together([stepper, reader])
    assert seen, "the reader never ran"
    for sd in seen:
        t = sd["steps_taken"]
        expected = by_step[t]
        assert sd["state.0.step"] == t
        for key in ("state.0.exp_avg", "state.0.exp_avg_sq"):
            assert sd[key].tobytes() == expected[key].tobytes(), (t, key)
