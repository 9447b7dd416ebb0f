"""``engine.direct.compiled_for``: a kernel's compiled code, called without numba's dispatch."""

from __future__ import annotations

import numpy as np
from numba import njit

from mmrecord.engine.direct import compiled_for


@njit
def _weighted_sum(values, weight, offset):
    return values.sum() * weight + offset


def test_the_compiled_code_gives_what_the_kernel_gives():
    values = np.arange(10, dtype=np.int64)
    code = compiled_for(_weighted_sum, values, 3, 1)
    assert code is not _weighted_sum
    for weight in (0, 2, -5):
        other = np.arange(weight, weight + 7, dtype=np.int64)
        assert code(other, weight, 4) == _weighted_sum(other, weight, 4) == other.sum() * weight + 4


def test_it_is_the_dispatchers_own_overload():
    values = np.ones(3, np.float64)
    code = compiled_for(_weighted_sum, values, 1.5, 2)
    assert len(_weighted_sum.overloads) >= 1
    assert any(code is overload.entry_point for overload in _weighted_sum.overloads.values())
    assert code(values, 1.5, 2) == 6.5
