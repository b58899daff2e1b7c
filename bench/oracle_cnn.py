"""A small ReLU CNN with one seeded weight set, built twice: in Keras and in PyTorch.

The oracle for comparing the service's methods with PyTorch libraries (pytorch-grad-cam,
Captum) on exactly the same function. Both twins are built from the numpy arrays of
`oracle_weights()`; `oracle_images()` gives the seeded inputs (NHWC, float32 in [0, 1]).

Architecture (input 32x32x3, NHWC in Keras, NCHW in PyTorch):

    conv1      Conv2D 3x3, 8, same, bias          -> relu1 (ReLU layer)        32x32x8
    conv2      Conv2D 3x3, 12, same, no bias      -> bn2 (BatchNormalization)
                                                  -> relu2 (ReLU layer)        32x32x12
    pool       MaxPooling 2x2                                                  16x16x12
    last_conv  Conv2D 3x3, 16, same, bias, ReLU inside the layer               16x16x16
    gap        global average pooling                                          16
    logits     Dense 5 (bias)
    probabilities  softmax (the last layer)

In PyTorch `last_conv` is `Sequential(Conv2d, ReLU)`, so a hook on it sees the same
post-ReLU activations as the Keras layer's output; every ReLU is an `nn.ReLU` module
(guided backprop replaces those); BatchNorm runs in eval mode with Keras' epsilon.

This file is shared verbatim by several branches: never change it; add another module.
TensorFlow/Keras and torch are both imported lazily, so the module imports anywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SIZE = 32
CHANNELS = 3
NUM_CLASSES = 5
BN_EPSILON = 1e-3
WEIGHT_SEED = 20261207
IMAGE_SEED = 7
LAST_CONV = "last_conv"
CONV_LAYERS = ("conv1", "conv2", "last_conv")  # Keras layer names (kernel HWIO)


def oracle_weights(seed: int = WEIGHT_SEED) -> dict[str, np.ndarray]:
    """The weight set, in Keras layouts: conv kernels (kh, kw, in, out), dense (in, out)."""
    rng = np.random.default_rng(seed)

    def he(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    def small(shape: tuple[int, ...], scale: float = 0.1) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    return {
        "conv1/kernel": he((3, 3, CHANNELS, 8), 9 * CHANNELS),
        "conv1/bias": small((8,)),
        "conv2/kernel": he((3, 3, 8, 12), 9 * 8),
        "bn2/gamma": rng.uniform(0.5, 1.5, 12).astype(np.float32),
        "bn2/beta": small((12,)),
        "bn2/moving_mean": small((12,), 0.2),
        "bn2/moving_variance": rng.uniform(0.5, 1.5, 12).astype(np.float32),
        "last_conv/kernel": he((3, 3, 12, 16), 9 * 12),
        "last_conv/bias": small((16,)),
        "logits/kernel": he((16, NUM_CLASSES), 16),
        "logits/bias": small((NUM_CLASSES,)),
    }


def oracle_images(count: int = 4, seed: int = IMAGE_SEED) -> np.ndarray:
    """`count` seeded images (count, 32, 32, 3), float32 in [0, 1]: a few coloured
    Gaussian blobs on a dim background plus a little noise (not left-right symmetric)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    images = np.empty((count, SIZE, SIZE, CHANNELS), dtype=np.float32)
    for index in range(count):
        image = rng.uniform(0.0, 0.2, (1, 1, CHANNELS)) * np.ones((SIZE, SIZE, CHANNELS))
        for _ in range(3):
            cy, cx = rng.uniform(4, SIZE - 4, 2)
            radius = rng.uniform(2.5, 6.0)
            colour = rng.uniform(0.2, 1.0, CHANNELS)
            blob = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * radius**2))
            image = image + blob[..., None] * colour
        image = image + rng.normal(0.0, 0.02, image.shape)
        images[index] = np.clip(image, 0.0, 1.0)
    return images


def keras_model(weights: dict[str, np.ndarray] | None = None) -> Any:
    """The Keras twin (a functional `keras.Model`, softmax output)."""
    import keras

    weights = oracle_weights() if weights is None else weights
    inputs = keras.Input((SIZE, SIZE, CHANNELS), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(inputs)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.Conv2D(12, 3, padding="same", use_bias=False, name="conv2")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name="bn2")(x)
    x = keras.layers.ReLU(name="relu2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name=LAST_CONV)(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(NUM_CLASSES, name="logits")(x)
    outputs = keras.layers.Softmax(name="probabilities")(x)
    model = keras.Model(inputs, outputs, name="oracle_cnn")
    model.get_layer("conv1").set_weights([weights["conv1/kernel"], weights["conv1/bias"]])
    model.get_layer("conv2").set_weights([weights["conv2/kernel"]])
    model.get_layer("bn2").set_weights(
        [weights[f"bn2/{name}"] for name in ("gamma", "beta", "moving_mean", "moving_variance")]
    )
    model.get_layer(LAST_CONV).set_weights([weights["last_conv/kernel"], weights["last_conv/bias"]])
    model.get_layer("logits").set_weights([weights["logits/kernel"], weights["logits/bias"]])
    return model


def torch_model(weights: dict[str, np.ndarray] | None = None, softmax: bool = True) -> Any:
    """The PyTorch twin in eval mode (NCHW input). `softmax=False` ends at the logits
    (what pytorch-grad-cam's `ClassifierOutputTarget` then differentiates, as the
    service's `score=logit`). Submodules carry the Keras layer names."""
    import torch
    from torch import nn

    weights = oracle_weights() if weights is None else weights

    def conv_kernel(name: str) -> torch.Tensor:  # (kh, kw, in, out) -> (out, in, kh, kw)
        return torch.from_numpy(np.ascontiguousarray(weights[name].transpose(3, 2, 0, 1)))

    def tensor(name: str) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(weights[name]))

    class OracleCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(CHANNELS, 8, 3, padding=1, bias=True)
            self.relu1 = nn.ReLU()
            self.conv2 = nn.Conv2d(8, 12, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(12, eps=BN_EPSILON)
            self.relu2 = nn.ReLU()
            self.pool = nn.MaxPool2d(2)
            self.last_conv = nn.Sequential(nn.Conv2d(12, 16, 3, padding=1, bias=True), nn.ReLU())
            self.logits = nn.Linear(16, NUM_CLASSES)
            self.probabilities = nn.Softmax(dim=1) if softmax else nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.relu1(self.conv1(x))
            x = self.relu2(self.bn2(self.conv2(x)))
            x = self.last_conv(self.pool(x))
            x = x.mean(dim=(2, 3))
            return self.probabilities(self.logits(x))

    model = OracleCNN()
    with torch.no_grad():
        model.conv1.weight.copy_(conv_kernel("conv1/kernel"))
        model.conv1.bias.copy_(tensor("conv1/bias"))
        model.conv2.weight.copy_(conv_kernel("conv2/kernel"))
        model.bn2.weight.copy_(tensor("bn2/gamma"))
        model.bn2.bias.copy_(tensor("bn2/beta"))
        model.bn2.running_mean.copy_(tensor("bn2/moving_mean"))
        model.bn2.running_var.copy_(tensor("bn2/moving_variance"))
        model.last_conv[0].weight.copy_(conv_kernel("last_conv/kernel"))
        model.last_conv[0].bias.copy_(tensor("last_conv/bias"))
        model.logits.weight.copy_(torch.from_numpy(weights["logits/kernel"].T.copy()))
        model.logits.bias.copy_(tensor("logits/bias"))
    return model.eval()


def to_nchw(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> (N, C, H, W), contiguous float32 (for the PyTorch twin)."""
    return np.ascontiguousarray(np.asarray(images, dtype=np.float32).transpose(0, 3, 1, 2))
