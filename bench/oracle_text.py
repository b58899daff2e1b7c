"""A small text classifier with one seeded weight set, built in Keras and in PyTorch.

The text twin of `bench/oracle_cnn.py`, for Captum's `LayerIntegratedGradients` on the
embedding (`bench/pixel_method_references.py`). Both are built from the numpy arrays of
`text_weights()`; `text_ids()` gives seeded token-id sequences (no id 0, the baseline).

    embedding  Embedding(VOCAB, 6)                         (T, 6)
    conv       Conv1D 3, 8, same, bias, ReLU inside         (T, 8)
    gap        global average pooling                       8
    logits     Dense 3 (bias); then softmax (Keras' last layer)

TensorFlow/Keras and torch are both imported lazily, so the module imports anywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

VOCAB = 20
DIM = 6
LENGTH = 12
NUM_CLASSES = 3
WEIGHT_SEED = 20261208
IDS_SEED = 11


def text_weights(seed: int = WEIGHT_SEED) -> dict[str, np.ndarray]:
    """Keras layouts: embedding (VOCAB, DIM), conv kernel (3, DIM, 8), dense (8, 3)."""
    rng = np.random.default_rng(seed)

    def normal(shape: tuple[int, ...], scale: float) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    return {
        "embedding": normal((VOCAB, DIM), 1.0),
        "conv/kernel": normal((3, DIM, 8), np.sqrt(2.0 / (3 * DIM))),
        "conv/bias": normal((8,), 0.1),
        "logits/kernel": normal((8, NUM_CLASSES), np.sqrt(2.0 / 8)),
        "logits/bias": normal((NUM_CLASSES,), 0.1),
    }


def text_ids(count: int = 3, seed: int = IDS_SEED) -> np.ndarray:
    """`count` sequences (count, LENGTH) int32 of ids in [1, VOCAB)."""
    return np.random.default_rng(seed).integers(1, VOCAB, (count, LENGTH)).astype(np.int32)


def keras_text_model(weights: dict[str, np.ndarray] | None = None) -> Any:
    import keras

    weights = text_weights() if weights is None else weights
    inputs = keras.Input((LENGTH,), dtype="int32", name="ids")
    x = keras.layers.Embedding(VOCAB, DIM, name="embedding")(inputs)
    x = keras.layers.Conv1D(8, 3, padding="same", activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling1D(name="gap")(x)
    x = keras.layers.Dense(NUM_CLASSES, name="logits")(x)
    outputs = keras.layers.Softmax(name="probabilities")(x)
    model = keras.Model(inputs, outputs, name="oracle_text")
    model.get_layer("embedding").set_weights([weights["embedding"]])
    model.get_layer("conv").set_weights([weights["conv/kernel"], weights["conv/bias"]])
    model.get_layer("logits").set_weights([weights["logits/kernel"], weights["logits/bias"]])
    return model


def torch_text_model(weights: dict[str, np.ndarray] | None = None) -> Any:
    """The PyTorch twin in eval mode, ending at the logits (`score=logit`)."""
    import torch
    from torch import nn

    weights = text_weights() if weights is None else weights

    class OracleText(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, DIM)
            self.conv = nn.Conv1d(DIM, 8, 3, padding=1)
            self.relu = nn.ReLU()
            self.logits = nn.Linear(8, NUM_CLASSES)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            x = self.embedding(ids).transpose(1, 2)  # (N, DIM, T)
            x = self.relu(self.conv(x)).mean(dim=2)
            return self.logits(x)

    model = OracleText()
    with torch.no_grad():
        model.embedding.weight.copy_(torch.from_numpy(weights["embedding"]))
        kernel = weights["conv/kernel"].transpose(2, 1, 0)  # (k, in, out) -> (out, in, k)
        model.conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
        model.conv.bias.copy_(torch.from_numpy(weights["conv/bias"]))
        model.logits.weight.copy_(torch.from_numpy(weights["logits/kernel"].T.copy()))
        model.logits.bias.copy_(torch.from_numpy(weights["logits/bias"]))
    return model.eval()
