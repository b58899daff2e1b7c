"""Attention rollout (Abnar & Zuidema 2020) and attention Grad-CAM (Chefer et al. 2021).

Both read the attention probabilities `A` `(B, heads, T, T)` of every Keras
`MultiHeadAttention` layer. The compiled pass replays the model and, in place of each
such layer, recomputes its attention from the layer's own query / key / value
projections (`softmax(q k^T / sqrt(d))`, then `A v` and the output projection), so the
probabilities are tensors of the pass and gradients reach them; the served model is
not changed. Maps are the class token's row of the accumulated relevance over the patch
tokens (with no prefix token, the mean of all rows), on the layer's token grid.

- rollout: `R = prod_l norm_rows(mean_heads(A_l) + I)` (last layer leftmost).
- attention-gradcam: `R = I`, then per layer `R <- R + mean_heads(relu(dA_l * A_l)) R`,
  `dA_l` the gradient of the target's score with respect to `A_l`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from app.engine.capture.keras.capture import float_outputs
from app.engine.layers.graph import named_outputs, output_layers, run_layers
from app.engine.layers.refs import LayerRef, output_shape
from app.engine.layers.tokens import NoTokenGrid, TokenGrid, token_grid
from app.engine.methods.cam import normalise
from app.engine.targets.heads import Head, RowTensors, step_results
from app.engine.targets.score import LogitFn, logit_function
from app.errors import InvalidInput

# (probabilities per layer, gradients per layer or None) -> relevance (B, T, T)
Relevance = Callable[[list[tf.Tensor], list[tf.Tensor] | None], tf.Tensor]


@dataclass(frozen=True)
class AttentionContext:
    model: keras.Model
    layer: LayerRef  # its grid is used when it has the attention's token count
    head: Head  # the score differentiated


def rollout(probabilities: list[tf.Tensor], gradients: list[tf.Tensor] | None) -> tf.Tensor:
    """`prod_l norm_rows(mean_heads(A_l) + I)`, the last layer leftmost."""
    tokens = tf.shape(probabilities[0])[-1]
    identity = tf.eye(tokens, dtype=tf.float32)
    relevance = identity[None]
    for attention in probabilities:
        mixed = tf.reduce_mean(attention, axis=1) + identity
        mixed /= tf.reduce_sum(mixed, axis=-1, keepdims=True)
        relevance = tf.matmul(mixed, relevance)
    return relevance


def chefer(probabilities: list[tf.Tensor], gradients: list[tf.Tensor] | None) -> tf.Tensor:
    """`R = I`; per layer `R <- R + mean_heads(relu(dA * A)) R`."""
    assert gradients is not None
    tokens = tf.shape(probabilities[0])[-1]
    relevance = tf.eye(tokens, dtype=tf.float32)[None]
    for attention, gradient in zip(probabilities, gradients, strict=True):
        weighted = tf.reduce_mean(tf.nn.relu(gradient * attention), axis=1)
        relevance = relevance + tf.matmul(weighted, relevance)
    return relevance


def class_row(relevance: tf.Tensor, grid: TokenGrid) -> tf.Tensor:
    """The class token's (first prefix token's) row over the patch tokens, `(B, h, w)`."""
    row = relevance[:, 0, :] if grid.prefix else tf.reduce_mean(relevance, axis=1)
    return tf.reshape(row[:, grid.prefix :], [-1, grid.height, grid.width])


def attention_layers(model: keras.Model) -> list[keras.layers.MultiHeadAttention]:
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.MultiHeadAttention):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(attention_layers(layer))
    return found


def attend(layer: keras.layers.MultiHeadAttention, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """The layer's output recomputed from its projections, and its probabilities."""
    query = args[0]
    value = args[1] if len(args) > 1 else kwargs["value"]
    key = args[2] if len(args) > 2 else kwargs.get("key")
    key = value if key is None else key
    if kwargs.get("attention_mask") is not None or kwargs.get("use_causal_mask"):
        raise InvalidInput(f"attention methods: layer '{layer.name}' is called with a mask")
    q = layer._query_dense(query) * tf.cast(1.0 / layer._key_dim**0.5, query.dtype)
    k, v = layer._key_dense(key), layer._value_dense(value)
    probabilities = tf.nn.softmax(tf.einsum("btnh,bsnh->bnts", q, k), axis=-1)
    output = layer._output_dense(tf.einsum("bnts,bsnh->btnh", probabilities, v))
    if kwargs.get("return_attention_scores"):
        return (output, probabilities), probabilities
    return output, probabilities


class AttentionPass:
    """The compiled step of one attention method (GradCam's signature and results)."""

    def __init__(self, context: AttentionContext, relevance: Relevance, gradients: bool) -> None:
        self.context, self.relevance, self.uses_gradients = context, relevance, gradients
        self.layers = attention_layers(context.model)
        if len(context.model.inputs[0].shape) != 4:
            raise InvalidInput("attention methods explain image models (a grid of patches)")
        if not self.layers:
            raise InvalidInput(
                f"attention methods need keras.layers.MultiHeadAttention layers; model "
                f"{context.model.name} has none"
            )
        self.grid = self.check_grid()
        self.logit_fns: dict[int, tuple[str, LogitFn]] = {}  # output layer -> its logit
        for name, layer in output_layers(context.model).items():
            logit_fn = logit_function(layer)
            if logit_fn is not None:
                self.logit_fns[id(layer)] = (name, logit_fn)

    def check_grid(self) -> TokenGrid:
        counts = {output_shape(layer)[1] for layer in self.layers}  # type: ignore[index]
        unusual = [
            layer.name for layer in self.layers if tuple(layer._attention_axes or (1,)) != (1,)
        ]
        if len(counts) != 1 or unusual:
            raise InvalidInput(
                "attention methods need every MultiHeadAttention layer to attend over the "
                f"same tokens (token counts {sorted(map(str, counts))}, other axes {unusual})"
            )
        tokens = counts.pop()
        layer_grid = self.context.layer.grid
        if layer_grid is not None and layer_grid.tokens == tokens:
            return layer_grid
        try:
            return token_grid(tokens, tuple(self.context.model.inputs[0].shape[1:3]))
        except NoTokenGrid as exc:
            raise InvalidInput(f"attention methods: their tokens fit no grid ({exc})") from None

    def run(self, model: keras.Model, inputs: tf.Tensor, found: dict[str, Any]) -> Any:
        """`model` on `inputs`, recording each attention's probabilities and the logits."""

        def call(layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
            if id(layer) in self.logit_fns:
                name, logit_fn = self.logit_fns[id(layer)]
                found["logits"][name] = logit_fn(args[0])
            if isinstance(layer, keras.layers.MultiHeadAttention):
                output, probabilities = attend(layer, *args, **kwargs)
                found["attention"].append(probabilities)
                return output
            if isinstance(layer, keras.Model) and attention_layers(layer):
                return self.run(layer, args[0], found)
            return layer(*args, **kwargs)

        return run_layers(model, inputs, call)

    def step(
        self,
        inputs: tf.Tensor,
        targets: tf.Tensor,
        regions: tf.Tensor,
        boxes: tf.Tensor,
        anchors: tf.Tensor,
        relu: tf.Tensor,
        counterfactual: tf.Tensor,
        use_logit: tf.Tensor,
    ) -> dict[str, Any]:
        found: dict[str, Any] = {"attention": [], "logits": {}}
        model = self.context.model
        rows = RowTensors(targets, regions, boxes, anchors)
        with tf.GradientTape() as tape:
            result = named_outputs(model, self.run(model, inputs, found))
            outputs, logits = float_outputs(result, found["logits"])
            scored = self.context.head.score(outputs, logits, rows, use_logit)
            score = scored.score
        probabilities = [tf.cast(a, tf.float32) for a in found["attention"]]
        gradients = None
        if self.uses_gradients:
            raw_gradients = tape.gradient(score, found["attention"])
            gradients = [
                tf.where(counterfactual, -1.0, 1.0) * tf.cast(g, tf.float32) for g in raw_gradients
            ]
        cam = class_row(self.relevance(probabilities, gradients), self.grid)
        cam = tf.where(relu, tf.nn.relu(cam), cam)
        heatmaps, scales = normalise(cam)
        return step_results(heatmaps, scales, cam, outputs, scored)


def attention_rollout(context: AttentionContext) -> AttentionPass:
    return AttentionPass(context, rollout, gradients=False)


def attention_gradcam(context: AttentionContext) -> AttentionPass:
    return AttentionPass(context, chefer, gradients=True)
