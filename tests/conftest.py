"""Fixtures shared by the test modules."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator with a fixed seed, so every failure can be reproduced."""
    return np.random.default_rng(20240607)


@pytest.fixture
def restore_backend_settings():
    """Give the test a free hand with the SIMD level and thread count, then restore.

    Tests that switch either setting must use this fixture, or a failure would leak
    the setting into every test that runs after it.
    """
    import fastrmsprop

    level = fastrmsprop.simd_level()
    threads = fastrmsprop.get_num_threads()
    yield
    fastrmsprop.set_simd_level(level)
    fastrmsprop.set_num_threads(threads)
