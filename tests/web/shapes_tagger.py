"""A multilabel model for the page's tests, made from models/shapes_seg (no model of
that head is bundled): for each shape, is it in the image?

tags[k] = sigmoid(12 * (max over pixels of P(shape k) - 0.5)): the segmenter's most
confident pixel of the shape, pushed towards 0 or 1. Only standard layers with fixed
weights (a 1x1 convolution drops the background, a Dense scales), so the card's
`safe_mode` load takes it and the multilabel head finds its logit (the sigmoid's input).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHAPES = ("circle", "square", "triangle", "cross")
SHARPNESS = 12.0
CARD = """id = "{model_id}"
version = "1"
task = "image"
head = "multilabel"
description = "Which shapes are in the image: shapes_seg's most confident pixel per shape."
model_file = "model.keras"
labels_file = "labels.txt"
default_layer = "decoder64"

[image]
size = [64, 64]
resize = "bilinear"
color_mode = "rgb"
scaling = "unit"
"""


def write_shapes_tagger(segmenter: Path, folder: Path, model_id: str) -> None:
    """The tagger built on `segmenter` (a shapes_seg model.keras), saved with its card."""
    import keras

    seg = keras.saving.load_model(segmenter, safe_mode=True)
    classes = seg.output.shape[-1]
    shapes = keras.layers.Conv2D(len(SHAPES), 1, use_bias=False, name="shapes")(seg.output)
    best = keras.layers.GlobalMaxPooling2D(name="best_pixel")(shapes)
    logits = keras.layers.Dense(len(SHAPES), name="presence")(best)
    tags = keras.layers.Activation("sigmoid", name="tags")(logits)
    model = keras.Model(seg.input, tags, name=model_id)
    drop_background = np.zeros((1, 1, classes, len(SHAPES)), np.float32)
    for k in range(len(SHAPES)):
        drop_background[0, 0, k + 1, k] = 1.0  # class k + 1 of the segmenter is shape k
    model.get_layer("shapes").set_weights([drop_background])
    scale = SHARPNESS * np.eye(len(SHAPES), dtype=np.float32)
    model.get_layer("presence").set_weights(
        [scale, np.full(len(SHAPES), -SHARPNESS / 2, np.float32)]
    )
    folder.mkdir()
    model.save(folder / "model.keras")
    (folder / "labels.txt").write_text("\n".join(SHAPES) + "\n", encoding="utf-8")
    (folder / "model.toml").write_text(CARD.format(model_id=model_id), encoding="utf-8")
