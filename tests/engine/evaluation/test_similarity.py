"""Spearman and SSIM against scipy's and scikit-image's (Quantus's) own functions."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from app.engine.evaluation.similarity import spearman, ssim


@pytest.mark.parametrize("shape", [(7, 7), (16, 16), (9, 13), (5, 5), (20,)])
def test_ssim_equals_scikit_image(shape):
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(1)
    a = rng.random(shape)
    b = a + rng.normal(0, 0.3, shape)
    data_range = max(a.max(), b.max()) - min(a.min(), b.min())
    window = min(7, *shape)
    window -= 1 - window % 2
    expected = metrics.structural_similarity(a, b, data_range=data_range, win_size=window)
    assert ssim(a, b) == pytest.approx(expected, rel=1e-10)


def test_ssim_equals_quantus_on_flat_maps():
    quantus = pytest.importorskip("quantus")
    rng = np.random.default_rng(2)
    a, b = rng.random(64), rng.random(64)
    assert ssim(a, b) == pytest.approx(quantus.similarity_func.ssim(a, b), rel=1e-10)


def test_spearman_equals_scipy_and_handles_constant_maps():
    rng = np.random.default_rng(3)
    a, b = rng.random((6, 6)), rng.random((6, 6))
    assert spearman(a, b) == pytest.approx(spearmanr(a.ravel(), b.ravel())[0])
    assert spearman(a, a * 2 + 1) == pytest.approx(1.0)
    assert spearman(a, np.zeros_like(a)) == 0.0


def test_identical_maps_are_fully_similar():
    a = np.random.default_rng(4).random((10, 10))
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(np.zeros((8, 8)), np.zeros((8, 8))) == 1.0
