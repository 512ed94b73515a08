"""Scale: element counts past 2³¹ use 64-bit indices, and memory stays flat.

The split of the work between threads is checked on sizes up to 2⁴⁰ without
allocating them (``fastrmsprop._core._partition``). A slow test steps one tensor of
2³¹ + 17 elements for real; a fast one checks that 10,000 steps do not grow the
process.
"""

from __future__ import annotations

import gc
import mmap
import os
import shutil

import ml_dtypes
import numpy as np
import pytest

import fastrmsprop
from fastrmsprop import reference

ALIGN = 64  # elements: a piece starts and ends on this grid, except at a tensor end


@pytest.fixture(scope="module")
def core():
    # Optional only in the sense that the package falls back to the NumPy
    # reference when the extension is not built; the split lives in the extension.
    return pytest.importorskip(
        "fastrmsprop._core", reason="the compiled extension is not built"
    )


PARTITIONS = [
    ([2**33 + 5, 3, 2**31 - 1], [1, 2, 3, 4, 7, 64]),
    ([2**31 + 17], [1, 2, 3]),
    ([2**32 - 1, 2**32, 2**32 + 1], [2, 5]),
    ([2**40], [7]),
    ([0, 0, 5], [1, 2]),
    ([], [1, 2]),
    ([1] * 1000, [2, 3]),
    ([63, 64, 65, 127, 128, 129], [1, 2, 4]),
    ([100_000, 3, 100_000], [2]),
    ([3], [4]),
]


@pytest.mark.parametrize(
    "sizes,threads",
    [(s, t) for s, ts in PARTITIONS for t in ts],
    ids=[
        f"{len(s)}tensors-max{max(s, default=0)}-{t}threads"
        for s, ts in PARTITIONS
        for t in ts
    ],
)
def test_partition_covers_every_element_once_on_the_grid(core, sizes, threads):
    pieces = core._partition(sizes, threads)
    assert len(pieces) == threads

    covered = {i: [] for i in range(len(sizes))}
    loads = []
    for per_thread in pieces:
        load = 0
        for tensor, begin, end in per_thread:
            assert 0 <= tensor < len(sizes)
            assert 0 <= begin < end <= sizes[tensor], (tensor, begin, end)
            assert begin % ALIGN == 0, (tensor, begin)
            assert end % ALIGN == 0 or end == sizes[tensor], (tensor, end)
            covered[tensor].append((begin, end))
            load += end - begin
        loads.append(load)

    for tensor, size in enumerate(sizes):
        position = 0
        for begin, end in sorted(covered[tensor]):
            assert begin == position, f"tensor {tensor}: gap or overlap at {begin}"
            position = end
        assert position == size, f"tensor {tensor}: covered up to {position}"
    total = sum(sizes)
    assert sum(loads) == total
    # Pieces are whole tensors or cut on the grid, so no thread carries more than
    # its share plus one grid step per tensor.
    nonempty = sum(1 for s in sizes if s)
    assert max(loads) <= total / threads + ALIGN * max(nonempty, 1)


def test_partition_refuses_sizes_past_64_bits(core):
    """A size the kernel's index type cannot hold is refused, not wrapped."""
    with pytest.raises((OverflowError, TypeError, ValueError)):
        core._partition([2**64], 2)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(
    not os.path.exists("/proc/self/statm"),
    reason="reads the resident size from /proc (Linux only)",
)
def test_memory_stays_flat_over_10000_steps():
    """A leak of one grad copy or one array reference per step would show here."""
    rng = np.random.default_rng(0)
    n = 4096
    params = {
        name: [
            rng.standard_normal(n).astype(np.float32),
            rng.standard_normal(n).astype(ml_dtypes.bfloat16),
        ]
        for name in ("RMSProp", "Adagrad", "Adam", "AdamW")
    }
    # A strided grad takes the contiguous-copy path, the likeliest to leak.
    grads = [
        rng.standard_normal(2 * n).astype(np.float32)[::2],
        rng.standard_normal(n).astype(ml_dtypes.bfloat16),
    ]
    opts = [
        getattr(fastrmsprop, name)(p, lr=1e-4, skip_nonfinite=True)
        for name, p in params.items()
    ]
    opts[0] = fastrmsprop.RMSProp(
        params["RMSProp"], lr=1e-4, momentum=0.9, centered=True, skip_nonfinite=True
    )
    square_avgs = [np.zeros(n, np.float32), np.zeros(n, np.float32)]
    own = [
        rng.standard_normal(n).astype(np.float32),
        rng.standard_normal(n).astype(ml_dtypes.bfloat16),
    ]

    def steps(count):
        for _ in range(count):
            for opt in opts:
                opt.step(grads)
            fastrmsprop.rmsprop_step(own, grads, square_avgs, lr=1e-4)

    steps(500)
    gc.collect()
    before = _rss_bytes()
    steps(10_000)
    gc.collect()
    growth = _rss_bytes() - before
    # 10,000 leaked 16 KiB grad copies would be 160 MB; allocator noise is far
    # below the 8 MB allowed here.
    assert growth < 8 * 2**20, f"resident size grew by {growth / 2**20:.1f} MiB"
    assert all(opt.steps_taken == 10_500 for opt in opts)


def _mapped(path, count: int, dtype) -> np.ndarray:
    """A writable array backed by a file, so the kernel's pages can be evicted."""
    nbytes = count * np.dtype(dtype).itemsize
    with open(path, "w+b") as f:
        f.truncate(nbytes)
        buffer = mmap.mmap(f.fileno(), nbytes)
    return np.frombuffer(buffer, dtype=dtype)


@pytest.mark.slow
@pytest.mark.usefixtures("restore_backend_settings")
def test_one_tensor_past_2_31_elements(tmp_path):
    """2³¹ + 17 float16 elements: every one is updated, those past 2³¹ included.

    About 17 GB of arrays (float16 param and grad, float32 square average); they are
    mapped from files under the test's temporary directory so that the page cache,
    not the process, holds them and the test cannot exhaust the memory.
    """
    # A write to a mapped page the file system has no room for kills the process
    # with SIGBUS instead of raising, so a nearly full disk is detected first.
    needed = (2**31 + 17) * (2 + 2 + 4) + 2**30
    free = shutil.disk_usage(tmp_path).free
    if free < needed:
        pytest.skip(
            f"needs {needed / 1e9:.0f} GB free under {tmp_path} for its mapped "
            f"arrays, has {free / 1e9:.1f} GB"
        )
    try:
        _step_past_2_31(tmp_path)
    finally:
        # 17 GB must not outlive the test in pytest's kept temporary directories.
        gc.collect()
        for name in ("param", "grad", "square_avg"):
            (tmp_path / name).unlink(missing_ok=True)


def _step_past_2_31(directory) -> None:
    n = 2**31 + 17
    param = _mapped(directory / "param", n, np.float16)
    grad = _mapped(directory / "grad", n, np.float16)
    square_avg = _mapped(directory / "square_avg", n, np.float32)
    chunk = 2**26
    for start in range(0, n, chunk):
        param[start : start + chunk] = 1.0
        grad[start : start + chunk] = 0.5
    # Distinct values where a 32-bit index would wrap, split or stop.
    markers = [
        0,
        2**31 - 65,
        2**31 - 1,
        2**31,
        2**31 + 1,
        2**31 + 15,
        n - 1,
        2**30 - 1,
        2**30,
    ]
    for k, where in enumerate(markers):
        param[where] = 2.0 + k
        grad[where] = -0.25 * (k + 1)

    fastrmsprop.set_num_threads(2)
    fastrmsprop.rmsprop_step(param, grad, square_avg, lr=1e-2, beta=0.9, momentum=0.0)

    small_p = np.array([1.0] + [2.0 + k for k in range(len(markers))], np.float16)
    small_g = np.array(
        [0.5] + [-0.25 * (k + 1) for k in range(len(markers))], np.float16
    )
    small_v = np.zeros(small_p.shape, np.float32)
    reference.rmsprop_step(small_p, small_g, small_v, lr=1e-2, beta=0.9)
    plain_p, plain_v = small_p[0], small_v[0]
    for k, where in enumerate(markers):
        assert param[where] == small_p[k + 1], f"param at {where}"
        assert square_avg[where] == small_v[k + 1], f"square_avg at {where}"
        param[where], square_avg[where] = plain_p, plain_v
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        assert np.all(param[start:stop] == plain_p), f"param in [{start}, {stop})"
        assert np.all(square_avg[start:stop] == plain_v), (
            f"square_avg [{start}, {stop})"
        )
