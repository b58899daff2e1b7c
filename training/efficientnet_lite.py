"""EfficientNet-Lite0 as a Keras functional model, and its weights from a PyTorch state dict.

Lite differs from EfficientNet-B0 in: no squeeze-and-excitation, ReLU6 everywhere,
stem (32) and head (1280) not scaled. Padding is TensorFlow's "same" (the PyTorch port,
lukemelas-style `Conv2dStaticSamePadding`, pads stride-2 convolutions by
`total // 2` before and the rest after, which is what Keras "same" does), and
BatchNormalization epsilon is 1e-3. Layers are named like keras.applications'
EfficientNet (`block3b_project_conv`, `top_activation`) so candidate layers read well.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass

import keras
import numpy as np

BN_EPSILON = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
CLASSES = 1000


@dataclass(frozen=True)
class Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    channels_in: int
    channels_out: int


STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)


@dataclass(frozen=True)
class Block:
    name: str  # Keras prefix, e.g. block2a
    index: int  # PyTorch `_blocks.{index}`
    kernel: int
    stride: int
    expand: int
    channels_in: int
    channels_out: int


def blocks() -> Iterator[Block]:
    """The 16 blocks in order: a stage's first block strides and changes width."""
    index = 0
    for number, stage in enumerate(STAGES, start=1):
        for repeat in range(stage.repeats):
            first = repeat == 0
            yield Block(
                name=f"block{number}{string.ascii_lowercase[repeat]}",
                index=index,
                kernel=stage.kernel,
                stride=stage.stride if first else 1,
                expand=stage.expand,
                channels_in=stage.channels_in if first else stage.channels_out,
                channels_out=stage.channels_out,
            )
            index += 1


def conv_bn_relu6(
    x: keras.KerasTensor, channels: int, kernel: int, stride: int, name: str
) -> keras.KerasTensor:
    x = keras.layers.Conv2D(channels, kernel, stride, "same", use_bias=False, name=f"{name}_conv")(
        x
    )
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_activation")(x)


def mbconv(x: keras.KerasTensor, block: Block) -> keras.KerasTensor:
    inputs, name = x, block.name
    if block.expand != 1:
        x = conv_bn_relu6(x, block.channels_in * block.expand, 1, 1, f"{name}_expand")
    x = keras.layers.DepthwiseConv2D(
        block.kernel, block.stride, "same", use_bias=False, name=f"{name}_dwconv"
    )(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    x = keras.layers.ReLU(6.0, name=f"{name}_activation")(x)
    x = keras.layers.Conv2D(block.channels_out, 1, use_bias=False, name=f"{name}_project_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_project_bn")(x)
    if block.stride == 1 and block.channels_in == block.channels_out:
        x = keras.layers.Add(name=f"{name}_add")([x, inputs])
    return x


def build_efficientnet_lite0(size: int = 224) -> keras.Model:
    inputs = keras.Input((size, size, 3), name="image")
    x = conv_bn_relu6(inputs, STEM_CHANNELS, 3, 2, "stem")
    for block in blocks():
        x = mbconv(x, block)
    x = conv_bn_relu6(x, HEAD_CHANNELS, 1, 1, "top")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def conv_kernel(weight: np.ndarray) -> np.ndarray:
    return weight.transpose(2, 3, 1, 0)  # (O, I, kh, kw) -> (kh, kw, I, O)


def depthwise_kernel(weight: np.ndarray) -> np.ndarray:
    return weight.transpose(2, 3, 0, 1)  # (C, 1, k, k) -> (k, k, C, 1)


def batch_norm(state: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    return [state[f"{prefix}.{part}"] for part in ("weight", "bias", "running_mean", "running_var")]


def keras_weights(state: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Keras layer name -> its weights, from the PyTorch state dict's tensors."""
    weights = {
        "stem_conv": [conv_kernel(state["_conv_stem.weight"])],
        "stem_bn": batch_norm(state, "_bn0"),
        "top_conv": [conv_kernel(state["_conv_head.weight"])],
        "top_bn": batch_norm(state, "_bn1"),
        "predictions": [state["_fc.weight"].T, state["_fc.bias"]],
    }
    for block in blocks():
        torch, name = f"_blocks.{block.index}", block.name
        if block.expand != 1:
            weights[f"{name}_expand_conv"] = [conv_kernel(state[f"{torch}._expand_conv.weight"])]
            weights[f"{name}_expand_bn"] = batch_norm(state, f"{torch}._bn0")
        weights[f"{name}_dwconv"] = [depthwise_kernel(state[f"{torch}._depthwise_conv.weight"])]
        weights[f"{name}_bn"] = batch_norm(state, f"{torch}._bn1")
        weights[f"{name}_project_conv"] = [conv_kernel(state[f"{torch}._project_conv.weight"])]
        weights[f"{name}_project_bn"] = batch_norm(state, f"{torch}._bn2")
    return weights


def set_weights(model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Set every weighted layer; refuse a state dict with tensors left unused."""
    weights = keras_weights(state)
    weighted = {layer.name for layer in model.layers if layer.weights}
    if weighted != set(weights):
        raise ValueError(f"layers without weights: {sorted(weighted ^ set(weights))}")
    for name, values in weights.items():
        model.get_layer(name).set_weights(values)
    used = sum(len(values) for values in weights.values())
    tensors = sum(1 for key in state if not key.endswith("num_batches_tracked"))
    if used != tensors:
        raise ValueError(f"state dict has {tensors} tensors, {used} were used")
