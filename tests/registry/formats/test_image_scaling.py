"""Card image scaling: the fixed modes and per-channel `mean`/`std`."""

import numpy as np
import pytest

from app.errors import ModelError
from app.registry.card import read_card
from app.registry.formats.loader import image_scaling, per_channel_standardize

CARD = """
id = "m"
task = "image"
model_file = "model.keras"

[image]
size = [2, 2]
{image}
"""


def card_image(tmp_path, image: str):
    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    (folder / "model.toml").write_text(CARD.format(image=image))
    card = read_card(folder)
    assert card.image is not None
    return card.image


def test_mean_std_scales_each_channel(tmp_path):
    config = card_image(
        tmp_path,
        'scaling = "mean_std"\nmean = [123.675, 116.28, 103.53]\nstd = [58.395, 57.12, 57.375]',
    )
    pixels = np.zeros((1, 2, 2, 3), np.float32)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 0.0, 128.0, 255.0
    scaled = image_scaling(config)(pixels)
    expected = [(0.0 - 123.675) / 58.395, (128.0 - 116.28) / 57.12, (255.0 - 103.53) / 57.375]
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled[0, 0, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(scaled[0, 1, 1], expected, rtol=1e-6)


@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (1, 224, 224, 3), (3, 4, 6, 1), (4, 3), (3,)])
def test_standardize_along_rows_is_the_broadcast_bit_for_bit(shape):
    channels = shape[-1]
    rng = np.random.default_rng(sum(shape))
    pixels = rng.integers(0, 256, shape).astype(np.float32)
    mean = rng.uniform(0, 255, channels).astype(np.float32)
    std = rng.uniform(1, 128, channels).astype(np.float32)
    fast = per_channel_standardize(pixels, mean, std)
    assert fast.dtype == np.float32 and fast.shape == pixels.shape
    np.testing.assert_array_equal(fast, (pixels - mean) / std)


def test_mean_std_for_grayscale_takes_one_value(tmp_path):
    config = card_image(
        tmp_path, 'color_mode = "grayscale"\nscaling = "mean_std"\nmean = [127]\nstd = [128]'
    )
    pixels = np.array([0.0, 127.0, 255.0], np.float32).reshape(1, 1, 3, 1)
    np.testing.assert_allclose(image_scaling(config)(pixels).ravel(), [-127 / 128, 0.0, 1.0])


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ('scaling = "mean_std"\nmean = [1, 2, 3]', "needs both mean and std"),
        ('scaling = "mean_std"\nstd = [1, 2, 3]', "needs both mean and std"),
        ('scaling = "mean_std"', "needs both mean and std"),
        (
            'scaling = "raw"\nmean = [1, 2, 3]\nstd = [1, 1, 1]',
            'only read with scaling = "mean_std"',
        ),
        ("mean = [1, 2, 3]\nstd = [1, 1, 1]", 'only read with scaling = "mean_std"'),
        ('scaling = "mean_std"\nmean = [1, 2]\nstd = [1, 1, 1]', "mean needs 3 values"),
        ('scaling = "mean_std"\nmean = [1, 2, 3]\nstd = [1]', "std needs 3 values"),
        (
            'color_mode = "grayscale"\nscaling = "mean_std"\nmean = [1, 2, 3]\nstd = [1, 1, 1]',
            "mean needs 1 values",
        ),
        ('scaling = "mean_std"\nmean = [1, 2, 3]\nstd = [1, 0, 1]', "std value must be > 0"),
        ('scaling = "mean_std"\nmean = [1, 2, 3]\nstd = [1, -2, 1]', "std value must be > 0"),
        ('scaling = "mean_std"\nmean = [1, nan, 3]\nstd = [1, 1, 1]', "finite"),
        ('scaling = "mean_std"\nmean = [1, 2, 3]\nstd = [1, inf, 1]', "finite"),
    ],
)
def test_inconsistent_mean_std_cards_are_refused(tmp_path, image, message):
    with pytest.raises(ModelError, match=message):
        card_image(tmp_path, image)
