"""explain_images / explain_texts: preprocess -> engine -> render, for one model.

Results are plain dataclasses whose field names match the API's response schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image

from app.engine.faithfulness import DEFAULT_STEPS
from app.engine.gradcam import GradCam
from app.engine.methods import DEFAULT_MAX_CHANNELS
from app.engine.results import CamBatch
from app.errors import InvalidInput
from app.preprocess.image import (
    ImageLimits,
    cap_longest_side,
    decode_image,
    is_jpeg,
    to_model_array,
)
from app.preprocess.text import (
    TextSpec,
    TokenSequence,
    check_ids,
    ids_to_tokens,
    pad_sequence,
    text_sequence,
    tokens_to_ids,
)
from app.registry.served import ServedModel
from app.render.encode import data_url, encode_image
from app.render.html import highlight_html
from app.render.overlay import blend_overlay, heatmap_layer, layer_size, paste_overlay
from app.render.text_spans import (
    Range,
    resize_to_tokens,
    source_spans,
    unpadded_slice,
    weighted_spans,
)


@dataclass(frozen=True)
class ExplainOptions:
    targets: list[int] | None = None
    layer: int | str | None = None
    relu: bool = True
    counterfactual: bool = False
    score: str | None = None  # None: the model card's default
    method: str = "gradcam"
    max_channels: int | None = None  # None: DEFAULT_MAX_CHANNELS (scorecam, ablationcam)
    metrics: list[str] | None = None  # faithfulness scores to compute (images)
    metric_steps: int = DEFAULT_STEPS
    colormap: str = "viridis"
    alpha_limit: float = 0.65
    overlay: bool | Literal["layer"] = True  # "layer": the coloured heatmap alone
    overlay_format: str = "auto"  # "auto": JPEG for a JPEG upload, else PNG (overlay_format_for)
    overlay_max_side: int = 1024
    pad_value: int | str | None = None  # None: the model's pad id
    padding: str | None = None  # None: the model's padding side
    interpolation_kind: str = "linear"
    max_tokens: int = 4096  # per instance, after tokenizing (char models make many)


@dataclass(frozen=True)
class TextInput:
    text: str | None = None
    tokens: list[str] | None = None
    doc: list[int] | None = None
    ids: list[int] | None = None  # token ids alone: the tokens come from the vocabulary


@dataclass
class WeightedSpansResult:
    document: str
    spans: list[tuple[str, list[tuple[int, int]], float]]


@dataclass
class TargetResult:
    target: int
    label: str | None
    score: float
    scale: float
    heatmap: list[list[float]] | list[float]
    overlay: str | None = None
    overlay_bytes: bytes | None = None  # for `Accept: image/*` responses
    weighted_spans: WeightedSpansResult | None = None
    html: str | None = None
    metrics: dict[str, float] | None = None


@dataclass
class ImageSizeResult:
    width: int
    height: int


@dataclass
class ExplanationResult:
    targets: list[TargetResult] = field(default_factory=list)
    image: ImageSizeResult | None = None
    tokens: list[str] | None = None


@dataclass
class ExplainResult:
    model_id: str
    model_version: str
    method: str
    layer: str
    predictions: list[list[float]]
    explanations: list[ExplanationResult]


@dataclass
class PreparedImages:
    images: list[Image.Image]  # decoded, EXIF-oriented originals
    inputs: np.ndarray  # (B, H, W, C) scaled for the model
    pixels: np.ndarray  # (B, H, W, C) resized, 0..255, before the scaling (for metrics)
    from_jpeg: list[bool]  # each upload was a JPEG (overlay_format "auto" answers in kind)


@dataclass(frozen=True)
class TextSource:
    """A text as sent and, per padded position, the characters its token stands for."""

    text: str
    ranges: list[Range | None]  # None: padding


@dataclass
class PreparedTexts:
    sequences: list[tuple[list[str], list[int]]]  # padded tokens and ids per sample
    inputs: np.ndarray  # (B, T) ids
    padding: str
    sources: list[TextSource | None]  # per sample: spans go on the text (word-filtered models)


def explain_images(
    served: ServedModel, uploads: list[bytes], options: ExplainOptions, limits: ImageLimits
) -> ExplainResult:
    """Synchronous explain of images, straight on the engine (no batching)."""
    prepared = prepare_images(served, uploads, limits)
    gradcam, cams = run_gradcam(served, prepared.inputs, options)
    if options.metrics:
        assert served.scaling is not None
        cams = gradcam.add_metrics(
            cams, prepared.pixels, served.scaling, options.metrics, options.metric_steps
        )
    return render_images(served, gradcam.layer.name, prepared, cams, options)


def explain_texts(
    served: ServedModel, inputs: list[TextInput], options: ExplainOptions
) -> ExplainResult:
    """Synchronous explain of texts, straight on the engine (no batching)."""
    prepared = prepare_texts(served, inputs, options)
    gradcam, cams = run_gradcam(served, prepared.inputs, options)
    return render_texts(served, gradcam.layer.name, prepared, cams, options)


def prepare_images(
    served: ServedModel, uploads: list[bytes], limits: ImageLimits
) -> PreparedImages:
    require_task(served, "image")
    if served.takes_encoded_images:
        return prepare_encoded_images(served, uploads, limits)
    config = served.card.image
    assert config is not None and served.scaling is not None
    images = [decode_image(data, limits) for data in uploads]
    arrays = [to_model_array(img, config.size, config.resize, config.color_mode) for img in images]
    pixels = np.stack(arrays)
    from_jpeg = [is_jpeg(data) for data in uploads]
    return PreparedImages(images, served.scaling(pixels), pixels, from_jpeg)


def prepare_encoded_images(
    served: ServedModel, uploads: list[bytes], limits: ImageLimits
) -> PreparedImages:
    """The uploads' bytes as they are, for a graph that decodes them itself; the maps
    and overlays are drawn on the images the graph decoded."""
    for data in uploads:
        decode_image(data, limits)  # the same checks (format, size limits) as any upload
    inputs = np.array(uploads, dtype=object)
    pixels = served.decode_images(inputs)
    images = [Image.fromarray(as_8_bit(image)) for image in pixels]
    from_jpeg = [is_jpeg(data) for data in uploads]
    return PreparedImages(images, inputs, pixels.astype(np.float32), from_jpeg)


def as_8_bit(image: np.ndarray) -> np.ndarray:
    """A decoded image as 0..255 RGB: uint8 as is, floats in 0..1 or 0..255 scaled."""
    if image.dtype == np.uint8:
        values = image
    else:
        scale = 255.0 if float(np.max(image, initial=0.0)) <= 1.0 else 1.0
        values = np.clip(np.rint(image * scale), 0, 255).astype(np.uint8)
    return values[..., 0] if values.shape[-1] == 1 else values


def prepare_texts(
    served: ServedModel, inputs: list[TextInput], options: ExplainOptions
) -> PreparedTexts:
    require_task(served, "text")
    if options.metrics:
        raise InvalidInput("faithfulness metrics are computed for image models only")
    spec = served.text_spec
    assert spec is not None
    padding = options.padding or spec.padding
    read = [read_instance(item, spec, options.max_tokens) for item in inputs]
    sequences = [pad_sequence(sequence.tokens, sequence.ids, spec, padding) for sequence in read]
    if len({len(ids) for _, ids in sequences}) > 1:
        raise InvalidInput("instances of a variable-length model must have the same length")
    ids = np.array([ids for _, ids in sequences], dtype=served.input_dtype)
    sources = [
        text_source(item, sequence, len(padded), padding)
        for item, sequence, (padded, _) in zip(inputs, read, sequences, strict=True)
    ]
    return PreparedTexts(sequences, ids, padding, sources)


def text_source(
    item: TextInput, sequence: TokenSequence, length: int, padding: str
) -> TextSource | None:
    if item.text is None or sequence.ranges is None:
        return None
    pads: list[Range | None] = [None] * (length - len(sequence.ranges))
    ranges = [*sequence.ranges, *pads] if padding == "post" else [*pads, *sequence.ranges]
    return TextSource(item.text, ranges)


def render_images(
    served: ServedModel,
    layer: str,
    prepared: PreparedImages,
    cams: CamBatch,
    options: ExplainOptions,
) -> ExplainResult:
    check_overlay_format(options)
    result = new_result(served, layer, cams, options)
    for index, image in enumerate(prepared.images):
        explanation = ExplanationResult(image=ImageSizeResult(*image.size))
        fmt = overlay_format_for(options, prepared.from_jpeg[index])
        draw = overlay_drawer(image, options, fmt)
        for row in np.flatnonzero(cams.sample == index):
            target = target_result(served, cams, int(row), cams.heatmaps[row].tolist())
            if draw is not None:
                add_overlay(target, draw(cams.heatmaps[row]), fmt)
            explanation.targets.append(target)
        result.explanations.append(explanation)
    return result


def render_texts(
    served: ServedModel,
    layer: str,
    prepared: PreparedTexts,
    cams: CamBatch,
    options: ExplainOptions,
) -> ExplainResult:
    spec = served.text_spec
    assert spec is not None
    result = new_result(served, layer, cams, options)
    pad_value = spec.pad_id if options.pad_value is None else options.pad_value
    for index, (tokens, ids) in enumerate(prepared.sequences):
        explanation = ExplanationResult()
        source = prepared.sources[index]
        keep = unpadded_slice(tokens, ids, pad_value=pad_value, padding=prepared.padding)
        kept = tokens[keep]
        for row in np.flatnonzero(cams.sample == index):
            kind = options.interpolation_kind
            weights = resize_to_tokens(cams.heatmaps[row], len(tokens), kind)[keep]
            target = target_result(served, cams, int(row), weights.tolist())
            if source is None:
                document, spans = weighted_spans(kept, weights)
            else:
                document, spans = source.text, source_spans(kept, source.ranges[keep], weights)
            target.weighted_spans = WeightedSpansResult(document, spans)
            target.html = highlight_html(document, spans)
            explanation.tokens = kept
            explanation.targets.append(target)
        result.explanations.append(explanation)
    return result


def require_task(served: ServedModel, task: str) -> None:
    if served.card.task != task:
        raise InvalidInput(
            f"model {served.id} explains {served.card.task} inputs; this request sent {task}"
        )


def read_instance(item: TextInput, spec: TextSpec, max_tokens: int) -> TokenSequence:
    """An instance's tokens and ids, cut to length when the model truncates."""
    if item.text is None:
        return TokenSequence(*tokens_and_ids(item, spec)).truncated(spec)
    sequence = text_sequence(item.text, spec).truncated(spec)
    if len(sequence.tokens) > max_tokens:
        raise InvalidInput(f"the text has {len(sequence.tokens)} tokens; the limit is {max_tokens}")
    return sequence


def tokens_and_ids(item: TextInput, spec: TextSpec) -> tuple[list[str], list[int]]:
    if item.ids is not None:
        return ids_to_tokens(item.ids, spec), list(item.ids)
    tokens = list(item.tokens or [])
    if item.doc is None:
        return tokens_to_ids(tokens, spec)
    if len(item.doc) != len(tokens):
        raise InvalidInput(f"tokens has {len(tokens)} entries but doc has {len(item.doc)} ids")
    check_ids(item.doc, spec)
    return tokens, list(item.doc)


def run_gradcam(
    served: ServedModel, inputs: np.ndarray, options: ExplainOptions
) -> tuple[GradCam, CamBatch]:
    gradcam = served.gradcam(options.layer, options.method)
    cams = gradcam.explain(
        inputs,
        options.targets,
        relu=options.relu,
        counterfactual=options.counterfactual,
        score=options.score or served.card.score,
        max_channels=options.max_channels or DEFAULT_MAX_CHANNELS,
    )
    return gradcam, cams


def new_result(
    served: ServedModel, layer: str, cams: CamBatch, options: ExplainOptions
) -> ExplainResult:
    return ExplainResult(
        model_id=served.id,
        model_version=served.card.version,
        method=options.method,
        layer=layer,
        predictions=cams.predictions.tolist(),
        explanations=[],
    )


def target_result(
    served: ServedModel, cams: CamBatch, row: int, heatmap: list[float] | list[list[float]]
) -> TargetResult:
    target = int(cams.targets[row])
    return TargetResult(
        target=target,
        label=served.label(target),
        score=float(cams.scores[row]),
        scale=float(cams.scales[row]),
        heatmap=heatmap,
        metrics={name: float(values[row]) for name, values in cams.metrics.items()} or None,
    )


def check_overlay_format(options: ExplainOptions) -> None:
    if options.overlay == "layer" and options.overlay_format == "jpeg":
        raise InvalidInput("overlay=layer is transparent: ask for png or webp, not jpeg")


def overlay_format_for(options: ExplainOptions, from_jpeg: bool) -> str:
    """The overlay's encoding: as asked, or for "auto" a JPEG when the upload was one.

    A photo sent as a JPEG gets its composite back as a JPEG: as a PNG the 640x480
    composite of the benchmark's photo was 587 KB (a 789 KB JSON answer) where the
    upload was 88 KB. The layer is transparent and a drawing or screenshot (PNG, WebP,
    GIF) has sharp edges JPEG would blur: those stay PNG.
    """
    if options.overlay_format != "auto":
        return options.overlay_format
    return "jpeg" if from_jpeg and options.overlay is True else "png"


def overlay_drawer(
    image: Image.Image, options: ExplainOptions, fmt: str
) -> Callable[[np.ndarray], Image.Image] | None:
    """heatmap -> the picture to send for one image: the composite, the layer or none."""
    colormap, alpha_limit = options.colormap, options.alpha_limit
    if options.overlay == "layer":
        # No pixels of the image are needed, only its size: the client scales the layer
        # over its own copy of the image, so the layer is sized by what the map holds.
        def draw_layer(heatmap: np.ndarray) -> Image.Image:
            size = layer_size(image.size, heatmap.shape, options.overlay_max_side)
            return heatmap_layer(heatmap, size, colormap=colormap, alpha_limit=alpha_limit)

        return draw_layer
    if options.overlay:
        shown = cap_longest_side(image, options.overlay_max_side)
        # JPEG keeps no alpha: over an opaque image the cheaper RGB paste gives its pixels.
        opaque = not shown.has_transparency_data
        blend = paste_overlay if fmt == "jpeg" and opaque else blend_overlay
        return lambda heatmap: blend(shown, heatmap, colormap=colormap, alpha_limit=alpha_limit)
    return None


def add_overlay(target: TargetResult, picture: Image.Image, fmt: str) -> None:
    target.overlay_bytes = encode_image(picture, fmt)
    target.overlay = data_url(target.overlay_bytes, fmt)
