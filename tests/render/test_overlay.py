from collections.abc import Callable
from typing import Any

import matplotlib
import numpy as np
import pytest
from PIL import Image

from app.errors import InvalidInput
from app.render.overlay import blend_overlay, heatmap_layer, layer_size, paste_overlay

Oracle = Callable[..., Image.Image]


@pytest.fixture(scope="module")
def eli5_overlay() -> Oracle:
    """ELI5 0.16's own format_as_image (imported lazily: eli5 pulls in TensorFlow)."""
    from eli5.base import Explanation, TargetExplanation
    from eli5.formatters.image import format_as_image

    def overlay(image: Image.Image, heatmap: np.ndarray, **options: Any) -> Image.Image:
        explanation = Explanation(
            "oracle", targets=[TargetExplanation(0, heatmap=heatmap)], image=image
        )
        return format_as_image(explanation, **options)

    return overlay


def _photo(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = len(mode) if mode != "L" else 1
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze(axis=-1) if channels == 1 else pixels)


def _heatmap(shape: tuple[int, int], dtype: type = np.float32, seed: int = 1) -> np.ndarray:
    values: np.ndarray = np.random.default_rng(seed).random(shape).astype(dtype)
    values.flat[0], values.flat[-1] = 1.0, 0.0  # both ends of the range
    return values


@pytest.mark.slow
@pytest.mark.parametrize("colormap", ["viridis", "jet", "inferno", "magma", "gray", "turbo"])
@pytest.mark.parametrize("alpha_limit", [0.65, 0.0, 0.3, 1.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_eli5_pixel_for_pixel(
    eli5_overlay: Oracle, colormap: str, alpha_limit: float, dtype: type
) -> None:
    image, heatmap = _photo(53, 37), _heatmap((7, 9), dtype)
    ours = blend_overlay(image, heatmap, colormap=colormap, alpha_limit=alpha_limit)
    theirs = eli5_overlay(
        image, heatmap, colormap=matplotlib.colormaps[colormap], alpha_limit=alpha_limit
    )
    assert ours.mode == theirs.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


@pytest.mark.slow
@pytest.mark.parametrize("resample", list(Image.Resampling))
@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_matches_eli5_for_every_filter_and_image_mode(
    eli5_overlay: Oracle, resample: Image.Resampling, mode: str
) -> None:
    # A heatmap larger than the image too: the resize then shrinks it.
    for heatmap_shape in [(3, 4), (50, 60)]:
        image, heatmap = _photo(41, 29, mode), _heatmap(heatmap_shape)
        ours = blend_overlay(image, heatmap, resample=resample)
        theirs = eli5_overlay(image, heatmap, resampling_filter=resample)
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


@pytest.mark.slow
def test_negative_values_overlay_like_their_clipped_map(eli5_overlay: Oracle) -> None:
    image = _photo(32, 32)
    signed = np.random.default_rng(2).uniform(-1, 1, (5, 5)).astype(np.float32)
    ours = blend_overlay(image, signed)
    theirs = eli5_overlay(image, np.clip(signed, 0, 1))
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_negative_evidence_is_transparent() -> None:
    image = _photo(8, 8)
    negative = np.array([[-1.0, -0.5], [0.0, -0.2]], dtype=np.float32)
    overlay = blend_overlay(image, negative)
    np.testing.assert_array_equal(np.asarray(overlay), np.asarray(image.convert("RGBA")))


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_alpha_limit_zero_gives_back_the_original(mode: str) -> None:
    image = _photo(31, 17, mode)
    overlay = blend_overlay(image, _heatmap((4, 4)), alpha_limit=0.0)
    np.testing.assert_array_equal(np.asarray(overlay), np.asarray(image.convert("RGBA")))


def test_result_is_rgba_at_the_image_size() -> None:
    overlay = blend_overlay(_photo(123, 45), _heatmap((7, 7)))
    assert (overlay.mode, overlay.size) == ("RGBA", (123, 45))


def test_one_white_pixel_at_half_opacity_over_black_by_hand() -> None:
    black = Image.new("RGB", (2, 2), (0, 0, 0))
    hot = np.ones((1, 1), dtype=np.float32)
    overlay = blend_overlay(
        black, hot, colormap="gray", alpha_limit=0.5, resample=Image.Resampling.NEAREST
    )
    # Alpha int(0.5 * 255) = 127 (ELI5 truncates), so white over black gives 127.
    np.testing.assert_array_equal(np.asarray(overlay), np.full((2, 2, 4), [127, 127, 127, 255]))


def test_overlay_keeps_the_original_untouched() -> None:
    image = _photo(10, 10)
    before = np.asarray(image).copy()
    blend_overlay(image, _heatmap((3, 3)), alpha_limit=1.0)
    np.testing.assert_array_equal(np.asarray(image), before)


@pytest.mark.parametrize(
    ("heatmap", "options"),
    [
        (np.zeros((2, 2, 1)), {}),
        (np.zeros(4), {}),
        (np.zeros((2, 2)), {"alpha_limit": 1.5}),
        (np.zeros((2, 2)), {"alpha_limit": -0.1}),
        (np.zeros((2, 2)), {"colormap": "nope"}),
    ],
)
def test_refuses_bad_arguments(heatmap: np.ndarray, options: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        blend_overlay(_photo(4, 4), heatmap, **options)


@pytest.mark.slow
def test_a_camera_sized_overlay_matches_eli5(eli5_overlay: Oracle) -> None:
    image, heatmap = _photo(640, 480, seed=3), _heatmap((7, 7), seed=4)
    ours = blend_overlay(image, heatmap, colormap="jet")
    theirs = eli5_overlay(image, heatmap, colormap=matplotlib.colormaps["jet"])
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def _composite_over(image: Image.Image, layer: Image.Image) -> np.ndarray:
    """The "over" operator as a browser applies it to an opaque image: in floats, by hand."""
    base = np.asarray(image.convert("RGB"), dtype=np.float64)
    pixels = np.asarray(layer, dtype=np.float64)
    alpha = pixels[..., 3:] / 255
    return pixels[..., :3] * alpha + base * (1 - alpha)


@pytest.mark.parametrize("colormap", ["viridis", "jet", "gray"])
@pytest.mark.parametrize("alpha_limit", [0.65, 0.0, 1.0])
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_layer_laid_over_the_image_gives_the_overlay(
    colormap: str, alpha_limit: float, mode: str
) -> None:
    image, heatmap = _photo(61, 43, mode, seed=5), _heatmap((7, 7), seed=6)
    layer = heatmap_layer(heatmap, image.size, colormap=colormap, alpha_limit=alpha_limit)
    overlay = blend_overlay(image, heatmap, colormap=colormap, alpha_limit=alpha_limit)
    assert (layer.mode, layer.size) == ("RGBA", image.size)
    # Pillow's alpha_composite rounds in integers; the float composite differs by < 1.
    difference = np.abs(_composite_over(image, layer) - np.asarray(overlay)[..., :3])
    assert difference.max() < 1.0
    # And with Pillow's own operator it is the overlay exactly.
    exact = Image.alpha_composite(image.convert("RGBA"), layer)
    np.testing.assert_array_equal(np.asarray(exact), np.asarray(overlay))


def test_layer_alpha_is_the_capped_heatmap_and_transparent_where_it_is_zero() -> None:
    heatmap = np.array([[0.0, 0.2], [0.9, 1.0]], dtype=np.float32)
    layer = heatmap_layer(heatmap, (2, 2), alpha_limit=0.65, resample=Image.Resampling.NEAREST)
    # int(min(h, 0.65) * 255): 0, 51, 165, 165 (truncated, as ELI5 does).
    np.testing.assert_array_equal(np.asarray(layer)[..., 3], [[0, 51], [165, 165]])


def test_layer_of_negative_evidence_is_fully_transparent() -> None:
    layer = heatmap_layer(-np.ones((3, 3), dtype=np.float32), (20, 10))
    assert layer.size == (20, 10)
    assert not np.asarray(layer)[..., 3].any()


def test_layer_refuses_a_bad_heatmap() -> None:
    with pytest.raises(InvalidInput):
        heatmap_layer(np.zeros(4), (4, 4))


@pytest.mark.parametrize(
    ("image_size", "heatmap_shape", "max_side", "expected"),
    [
        ((640, 480), (7, 7), 1024, (224, 168)),  # 32 px per cell of a 7x7 map
        ((480, 640), (7, 7), 1024, (168, 224)),  # portrait keeps its aspect
        ((100, 50), (7, 7), 1024, (100, 50)),  # never larger than the image
        ((640, 480), (56, 56), 1024, (640, 480)),  # a fine map: the image's size
        ((4000, 1000), (56, 56), 1024, (1024, 256)),  # and never above max_side
        ((640, 480), (1, 30), 1024, (640, 480)),  # the longest side of the map counts
    ],
)
def test_layer_size_is_the_image_aspect_capped_by_the_map_and_max_side(
    image_size: tuple[int, int],
    heatmap_shape: tuple[int, int],
    max_side: int,
    expected: tuple[int, int],
) -> None:
    assert layer_size(image_size, heatmap_shape, max_side) == expected


@pytest.mark.parametrize(
    ("size", "shape", "colormap", "alpha_limit", "seed"),
    [
        ((640, 480), (7, 7), "viridis", 0.65, 0),
        ((321, 500), (14, 14), "jet", 1.0, 1),
        ((97, 61), (3, 5), "inferno", 0.3, 2),
        ((800, 600), (7, 7), "gray", 0.65, 3),
    ],
)
def test_the_rgb_paste_gives_the_composites_pixels(size, shape, colormap, alpha_limit, seed):
    """The JPEG path's cheaper composite: the same pixels as ELI5's, alpha dropped."""
    image = _photo(*size, seed=seed)
    heatmap = np.random.default_rng(seed).random(shape).astype(np.float32)
    options = {"colormap": colormap, "alpha_limit": alpha_limit}
    pasted = paste_overlay(image, heatmap, **options)
    composite = blend_overlay(image, heatmap, **options)
    assert pasted.mode == "RGB" and pasted.size == image.size
    assert np.array_equal(np.asarray(pasted), np.asarray(composite.convert("RGB")))
    assert not np.array_equal(np.asarray(pasted), np.asarray(image))  # the map is drawn
