"""The pointing game and energy pointing against their definitions, hand-computed, and
against Quantus 0.6's PointingGame and RelevanceMassAccuracy where they agree."""

import numpy as np
import pytest

from app.engine.evaluation.pointing import border_share, box_mask, energy_inside, pointing_hit


def test_box_mask_grows_by_the_margin_and_clips():
    mask = box_mask((2, 3, 4, 5), (8, 8))
    assert mask.sum() == 2 * 2 and mask[3, 2] and mask[4, 3] and not mask[5, 3]
    grown = box_mask((2, 3, 4, 5), (8, 8), margin=2)
    assert grown.sum() == 6 * 6  # rows 1..6, columns 0..5
    assert box_mask((0, 0, 2, 2), (8, 8), margin=15).all()  # clipped to the image


def test_a_hit_is_the_maximum_inside_the_grown_box():
    heatmap = np.zeros((20, 20))
    heatmap[2, 10] = 1.0
    box = (8, 8, 12, 12)
    assert not pointing_hit(heatmap, box_mask(box, (20, 20)))
    assert not pointing_hit(heatmap, box_mask(box, (20, 20), margin=5))  # row 2 < 8 - 5
    assert pointing_hit(heatmap, box_mask(box, (20, 20), margin=6))


def test_a_constant_map_points_nowhere():
    assert not pointing_hit(np.zeros((5, 5)), np.ones((5, 5), bool))


def test_energy_is_the_share_of_mass_inside():
    heatmap = np.array([[1.0, 3.0], [0.0, 4.0]])
    region = np.array([[False, True], [False, True]])
    assert energy_inside(heatmap, region) == pytest.approx(7 / 8)
    assert energy_inside(np.zeros((2, 2)), region) == 0.0


def test_border_share_of_a_frame_and_a_centre():
    frame = np.ones((10, 10))
    frame[1:9, 1:9] = 0
    assert border_share(frame) == 1.0
    centre = np.zeros((10, 10))
    centre[4:6, 4:6] = 1
    assert border_share(centre) == 0.0


def test_against_quantus():
    quantus = pytest.importorskip("quantus")
    rng = np.random.default_rng(3)
    heatmaps = rng.random((12, 1, 16, 16)).astype(np.float32)
    boxes = [sorted(rng.integers(0, 16, 2)) for _ in range(12)]
    masks = np.stack(
        [box_mask((b[0], b[0], b[1] + 1, b[1] + 1), (16, 16), margin=2) for b in boxes]
    )[:, None]
    ours_hit = [pointing_hit(h[0], m[0]) for h, m in zip(heatmaps, masks, strict=True)]
    ours_mass = [energy_inside(h[0], m[0]) for h, m in zip(heatmaps, masks, strict=True)]
    x = np.zeros((12, 1, 16, 16), np.float32)
    y = np.zeros(12, int)
    theirs_hit = quantus.PointingGame(disable_warnings=True)(
        model=None, x_batch=x, y_batch=y, a_batch=heatmaps, s_batch=masks.astype(float)
    )
    theirs_mass = quantus.RelevanceMassAccuracy(disable_warnings=True)(
        model=None, x_batch=x, y_batch=y, a_batch=heatmaps, s_batch=masks.astype(float)
    )
    assert ours_hit == [bool(v) for v in theirs_hit]
    assert 0 < sum(ours_hit) < 12  # both outcomes occur
    np.testing.assert_allclose(ours_mass, theirs_mass, rtol=1e-5)
