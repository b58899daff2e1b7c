"""f of the faithfulness scores for a head: its score of the outputs (probabilities).

Each map's choices are fixed as its explanation made them: the class, the region (the
mask, or the pixels predicted on the original image) and the predicted box; a masked
image is scored on those, never re-matched.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from app.engine.capture.adapter import Forward
from app.engine.evaluation.faithfulness import RowScore
from app.engine.targets.heads import Head, RowTensors
from app.engine.targets.results import CamBatch


def head_row_score(forward: Forward, head: Head, cams: CamBatch) -> RowScore:
    """f (M,) of images `(M, ...)` (or one image for all rows) for map rows `(M,)`."""
    count = len(cams.sample)
    regions = cams.regions
    if regions is None:
        regions = np.zeros((count, head.region_size), np.float32)
    anchors = cams.anchors if cams.anchors is not None else np.full(count, -1, np.int32)

    def score(images: np.ndarray, rows: np.ndarray) -> np.ndarray:
        outputs = forward.outputs(images)
        index = np.arange(len(rows)) % len(images)  # one image: every row reads it
        tensors = {name: tf.constant(value[index]) for name, value in outputs.items()}
        wanted = RowTensors(
            tf.constant(cams.targets[rows], tf.int32),
            tf.constant(regions[rows], tf.float32),
            tf.zeros([len(rows), 4], tf.float32),
            tf.constant(anchors[rows], tf.int32),
        )
        return np.asarray(head.score(tensors, tensors, wanted, tf.constant(False)).value.numpy())

    return score
