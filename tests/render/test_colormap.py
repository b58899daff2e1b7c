import matplotlib
import numpy as np
import pytest

from app.errors import InvalidInput
from app.render.colormap import COLORMAPS, colorize

# Every LUT boundary k/256 and its float neighbours, plus the ends and values
# just below 1, where an off-by-one in the indexing would show.
_BOUNDARIES = np.arange(257) / 256
_GRID = np.concatenate(
    [
        _BOUNDARIES,
        np.nextafter(_BOUNDARIES, 0.0),
        np.nextafter(_BOUNDARIES, 1.0),
        [0.0, 1.0, np.nextafter(1.0, 0.0), 1 - 1e-9, 0.5, 0.999],
    ]
)


def test_offers_the_usual_colormaps() -> None:
    assert {"viridis", "jet", "inferno", "magma", "gray"} <= set(COLORMAPS)


@pytest.mark.parametrize("name", COLORMAPS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_matplotlib_on_a_grid(name: str, dtype: type) -> None:
    values = np.clip(_GRID, 0.0, 1.0).astype(dtype).reshape(-1, 1)
    expected = matplotlib.colormaps[name](values)
    actual = colorize(values, name)
    assert actual.shape == (*values.shape, 4)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", COLORMAPS)
def test_matches_matplotlib_out_of_range_and_nan(name: str) -> None:
    values = np.array([[-0.5, -1e-12, 1 + 1e-12, 2.0, np.nan]])
    np.testing.assert_allclose(colorize(values, name), matplotlib.colormaps[name](values))


def test_gray_is_a_linear_ramp_by_hand() -> None:
    colours = colorize(np.array([0.0, 0.5, 1.0]), "gray")
    # 0.5 * 256 = 128 -> entry 128 of 0..255.
    np.testing.assert_allclose(colours[:, 0], [0.0, 128 / 255, 1.0])
    np.testing.assert_allclose(colours[:, 3], [1.0, 1.0, 1.0])


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        colorize(np.zeros((2, 2)), "rainbow-unicorn")
    assert caught.value.status == 422
    for name in COLORMAPS:
        assert name in caught.value.detail


def test_result_is_writable_and_independent_of_the_cache() -> None:
    first = colorize(np.zeros((1, 1)), "viridis")
    first[...] = 7.0
    assert colorize(np.zeros((1, 1)), "viridis").max() <= 1.0
