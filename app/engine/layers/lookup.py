"""Target-layer lookup: explicit (name, nested path or index) or automatic (ELI5's rules).

Nested models (a `keras.applications` base inside a new head) are searched too, so a
layer is named by its path from the top model, e.g. `mobilenetv2_1.00_224/out_relu`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import keras

from app.engine.layers.probe import last_layer_with_patch_gradient
from app.engine.layers.refs import IMAGE_RANK, TEXT_RANK, LayerRef, LayerSpec, output_shape
from app.engine.layers.tokens import NoTokenGrid, TokenHints, token_grid
from app.errors import InvalidInput

SEQUENCE_TYPES = (keras.layers.Conv1D, keras.layers.RNN, keras.layers.Bidirectional)
POOLING_1D_TYPES = (keras.layers.MaxPooling1D, keras.layers.AveragePooling1D)


def walk_layers(
    model: keras.Model, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], keras.layers.Layer]]:
    """Every layer depth-first in model order, nested models expanded after themselves."""
    for layer in model.layers:
        path = (*prefix, layer.name)
        yield path, layer
        if isinstance(layer, keras.Model):
            yield from walk_layers(layer, path)


def input_rank(model: keras.Model) -> int:
    return len(model.inputs[0].shape)


def required_rank(model: keras.Model) -> int:
    """Images need `(B, H, W, C)` maps; anything else (text) needs `(B, T, C)`."""
    return IMAGE_RANK if input_rank(model) == IMAGE_RANK else TEXT_RANK


def candidate_layers(model: keras.Model, hints: TokenHints | None = None) -> list[LayerRef]:
    """Every layer a client may pass as `layer`: its output has the required rank, or
    (image models) it is a `(B, tokens, C)` layer whose tokens fit a grid."""
    rank = required_rank(model)
    refs = []
    for ref in all_layers(model):
        if len(ref.output_shape) == rank:
            refs.append(ref)
        elif rank == IMAGE_RANK and len(ref.output_shape) == TEXT_RANK:
            try:
                refs.append(with_grid(model, ref, hints))
            except NoTokenGrid:
                continue
    return refs


def with_grid(model: keras.Model, ref: LayerRef, hints: TokenHints | None) -> LayerRef:
    """`ref` (a token layer of an image model) with its patch grid; NoTokenGrid if none."""
    image_size = tuple(model.inputs[0].shape[1:3])
    return replace(ref, grid=token_grid(ref.output_shape[1], image_size, hints))


def all_layers(model: keras.Model) -> list[LayerRef]:
    top = {id(layer): i for i, layer in enumerate(model.layers)}
    refs = []
    for path, layer in walk_layers(model):
        shape = output_shape(layer)
        if shape is not None and not isinstance(layer, keras.layers.InputLayer):
            index = top.get(id(layer)) if len(path) == 1 else None
            refs.append(LayerRef(path, shape, index))
    return refs


def resolve_layer(
    model: keras.Model, spec: LayerSpec, hints: TokenHints | None = None, tokens: bool = True
) -> LayerRef:
    """The layer `spec` names (or the automatic choice for None), checked for Grad-CAM."""
    if spec is None:
        return auto_layer(model, hints, tokens)
    if isinstance(spec, bool) or not isinstance(spec, int | str):
        raise InvalidInput(f"layer must be a name, a path or an integer index, not {spec!r}")
    ref = layer_by_index(model, spec) if isinstance(spec, int) else layer_by_name(model, spec)
    rank = required_rank(model)
    if rank == IMAGE_RANK and len(ref.output_shape) == TEXT_RANK:
        try:
            return with_grid(model, ref, hints)
        except NoTokenGrid as exc:
            raise InvalidInput(
                f"Can not perform Grad-CAM on token layer '{ref.name}': its output shape "
                f"{ref.output_shape} fits no token grid ({exc})"
            ) from None
    if len(ref.output_shape) != rank:
        raise InvalidInput(
            f"Can not perform Grad-CAM on layer '{ref.name}': its output shape "
            f"{ref.output_shape} has no spatial axes (need rank {rank})"
        )
    return ref


def layer_by_index(model: keras.Model, index: int) -> LayerRef:
    count = len(model.layers)
    if not -count <= index < count:
        raise InvalidInput(f"layer index {index} is out of range [{-count}, {count})")
    position = index % count
    found = [ref for ref in all_layers(model) if ref.index == position]
    if not found:
        raise InvalidInput(f"layer index {index} names a layer without an output")
    return found[0]


def layer_by_name(model: keras.Model, name: str) -> LayerRef:
    """An exact path (`outer/inner`), a top-level name, or a name unique among nested ones."""
    refs = all_layers(model)
    exact = [ref for ref in refs if ref.name == name]
    if exact:
        return exact[0]
    nested = [ref for ref in refs if ref.path[-1] == name]
    if len(nested) == 1:
        return nested[0]
    if nested:
        paths = ", ".join(ref.name for ref in nested)
        raise InvalidInput(f"layer name '{name}' is ambiguous; use one of the paths: {paths}")
    raise InvalidInput(
        f"layer '{name}' not found; GET /v1/models/{{id}} lists the candidate layers"
    )


def auto_layer(
    model: keras.Model, hints: TokenHints | None = None, tokens: bool = True
) -> LayerRef:
    """ELI5's automatic choice, searching inside nested models too.

    Images: the last layer whose output is `(B, H, W, C)`; when token layers come after
    it (a transformer), the last token layer whose patch tokens still receive gradient
    (probed on the model: the last block's output feeds only the class token to the
    head). Text: the last Conv1D or recurrent layer with a `(B, T, C)` output, else the
    last 1-D pooling layer of that rank, else the last Embedding. `tokens=False` (a
    segmentation or detection head: its `(B, N, C)` tensors are per box, not patches)
    skips the token layers.
    """
    candidates = [ref for ref in candidate_layers(model, hints) if not is_model(model, ref.path)]
    if required_rank(model) == IMAGE_RANK:
        rules: list[Callable[[keras.layers.Layer], bool]] = [lambda layer: True]
        token_refs = token_tail(candidates) if tokens else []
        found = last_layer_with_patch_gradient(model, token_refs) if token_refs else None
        if found is not None:
            return found
        candidates = [ref for ref in candidates if ref.grid is None] or candidates
    else:
        rules = [
            lambda layer: isinstance(layer, SEQUENCE_TYPES),
            lambda layer: isinstance(layer, POOLING_1D_TYPES),
            lambda layer: isinstance(layer, keras.layers.Embedding),
        ]
    for rule in rules:
        for ref in reversed(candidates):
            if rule(layer_at(model, ref.path)):
                return ref
    raise InvalidInput("Could not find a suitable target layer automatically; pass `layer`")


def token_tail(candidates: list[LayerRef]) -> list[LayerRef]:
    """The token layers after the last `(B, H, W, C)` candidate, in model order."""
    tail: list[LayerRef] = []
    for ref in reversed(candidates):
        if ref.grid is None:
            break
        tail.insert(0, ref)
    return tail


def layer_at(model: keras.Model, path: tuple[str, ...]) -> keras.layers.Layer:
    layer = model
    for name in path:
        layer = layer.get_layer(name)
    return layer


def is_model(model: keras.Model, path: tuple[str, ...]) -> bool:
    """Nested models are containers: automatic choice looks at the layers inside them."""
    return isinstance(layer_at(model, path), keras.Model)
