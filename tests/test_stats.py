"""The pipeline's order statistics give exactly NumPy's numbers."""

import numpy as np
import pytest

from hdr_expr.pipeline.stats import median, percentile


def _samples():
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 4, 5, 10, 57, 300):
        yield rng.integers(0, 256, n).astype(np.uint8)  # darkness levels
        yield rng.integers(-50, 900, n)  # box heights, coordinates
        yield list(map(int, rng.integers(0, 90, n)))  # a Python list
        yield rng.random(n) * 300.0 - 20.0  # float64
        yield rng.integers(0, 6, n).astype(np.float64)  # ties
        yield (rng.random(n) * 9.0).astype(np.float32)  # handed to NumPy


@pytest.mark.parametrize("q", [0, 3, 10, 25, 50, 75, 90, 97, 100])
def test_percentile_is_numpys(q):
    for x in _samples():
        assert percentile(x, q) == float(np.percentile(x, q)), (x, q)


def test_median_is_numpys_and_a_nan_stays_a_nan():
    for x in _samples():
        assert median(x) == float(np.median(x)), x
    grid = np.arange(35).reshape(5, 7) % 9
    assert median(grid) == float(np.median(grid)) and percentile(grid, 90) == float(np.percentile(grid, 90))
    with_nan = np.array([1.0, np.nan, 3.0])
    assert np.isnan(median(with_nan)) and np.isnan(percentile(with_nan, 50))
    assert isinstance(median([3, 1, 2]), float) and median([3, 1, 2]) == 2.0
