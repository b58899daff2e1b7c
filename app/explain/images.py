"""Explaining images: uploads decoded and scaled, the maps with their overlays out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from app.engine.targets.results import CamBatch
from app.errors import InvalidInput
from app.explain.answers import add_instance_answer, add_target_answer, outline_target
from app.explain.options import ExplainOptions
from app.explain.overlays import (
    add_overlay,
    check_overlay_format,
    overlay_drawer,
    overlay_format_for,
)
from app.explain.results import (
    ExplainResult,
    ExplanationResult,
    ImageSizeResult,
    new_result,
    target_result,
)
from app.explain.run import require_task, run_gradcam
from app.preprocess.image import ImageLimits, decode_image, is_jpeg, to_model_array
from app.preprocess.tensor import ImageTensor, scaling_affine, tensor_pixels
from app.registry.served import ServedModel


@dataclass
class PreparedImages:
    images: list[Image.Image]  # decoded, EXIF-oriented originals
    inputs: np.ndarray  # (B, H, W, C) scaled for the model
    pixels: np.ndarray  # (B, H, W, C) resized, 0..255, before the scaling (for metrics)
    from_jpeg: list[bool]  # each upload was a JPEG (overlay_format "auto" answers in kind)

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """Each upload's (width, height): masks and boxes are in its pixels."""
        return [image.size for image in self.images]


def explain_images(
    served: ServedModel,
    uploads: Sequence[bytes | ImageTensor],
    options: ExplainOptions,
    limits: ImageLimits,
) -> ExplainResult:
    """Synchronous explain of images, straight on the engine (no batching)."""
    prepared = prepare_images(served, uploads, limits)
    gradcam, cams = run_gradcam(served, prepared.inputs, options, prepared.pixels, prepared.sizes)
    if options.metrics:
        assert served.scaling is not None
        cams = gradcam.add_metrics(
            cams, prepared.pixels, served.scaling, options.metrics, options.metric_steps
        )
    return render_images(served, gradcam.layer_name, prepared, cams, options)


def prepare_images(
    served: ServedModel, uploads: Sequence[bytes | ImageTensor], limits: ImageLimits
) -> PreparedImages:
    """Encoded images decoded and resized, image tensors checked and mapped back to
    pixels; `inputs` holds the tensors as they were sent."""
    require_task(served, "image")
    encoded = [upload for upload in uploads if isinstance(upload, bytes)]
    if served.takes_encoded_images:
        if len(encoded) != len(uploads):
            index = next(i for i, u in enumerate(uploads) if isinstance(u, ImageTensor))
            raise InvalidInput(
                f"model {served.id} decodes encoded images in its own graph: send "
                f'instances[{index}] as an image, {{"b64": ...}}'
            )
        return prepare_encoded_images(served, encoded, limits)
    config = served.card.image
    assert config is not None and config.size is not None and served.scaling is not None
    width, height = config.size
    channels = 3 if config.color_mode == "rgb" else 1
    affine = None
    images, arrays, sent = [], [], {}
    for index, upload in enumerate(uploads):
        if isinstance(upload, ImageTensor):
            if affine is None:
                affine = scaling_affine(served.scaling, channels)
            pixels = tensor_pixels(
                upload,
                (height, width, channels),
                affine,
                served.id,
                config.scaling,
                served.input_key,
            )
            images.append(Image.fromarray(eight_bit(pixels)))
            sent[index] = upload.values
        else:
            image = decode_image(upload, limits)
            images.append(image)
            pixels = to_model_array(image, config.size, config.resize, config.color_mode)
        arrays.append(pixels)
    stacked = np.stack(arrays)
    inputs = np.array(served.scaling(stacked), copy=True)
    for index, values in sent.items():
        inputs[index] = values  # the model takes the tensor as it was sent
    from_jpeg = [isinstance(upload, bytes) and is_jpeg(upload) for upload in uploads]
    return PreparedImages(images, inputs, stacked, from_jpeg)


def eight_bit(pixels: np.ndarray) -> np.ndarray:
    """Pixels `(H, W, C)` 0..255 as the 8-bit picture the overlay is drawn on."""
    values: np.ndarray = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return values[..., 0] if values.shape[-1] == 1 else values


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


def render_images(
    served: ServedModel,
    layer: str,
    prepared: PreparedImages,
    cams: CamBatch,
    options: ExplainOptions,
) -> ExplainResult:
    check_overlay_format(options)
    result = new_result(served, layer, cams, options)
    labels = served.labels_of(result.output)
    for index, image in enumerate(prepared.images):
        explanation = ExplanationResult(image=ImageSizeResult(*image.size))
        add_instance_answer(explanation, cams, index, labels)
        fmt = overlay_format_for(options, prepared.from_jpeg[index])
        draw = overlay_drawer(image, options, fmt)
        for row in np.flatnonzero(cams.sample == index):
            target = target_result(served, cams, int(row), cams.heatmaps[row].tolist())
            add_target_answer(target, cams, int(row), image.size)
            if draw is not None:
                picture = draw(cams.heatmaps[row])
                if options.draw_targets:
                    picture = outline_target(picture, target, cams, int(row), image.size)
                add_overlay(target, picture, fmt)
            explanation.targets.append(target)
        result.explanations.append(explanation)
    return result
