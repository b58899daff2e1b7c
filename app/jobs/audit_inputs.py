"""An audit's instances checked and prepared before its job is queued, so a bad label, box,
mask or image is a 422 that names the instance rather than a failed job.

Boxes are `[x0, y0, x1, y1]` in pixels of the uploaded image (x1, y1 exclusive); masks are
PNGs of the image's size whose non-zero pixels are the object. Both are carried to the
model input's size (the image is resized to it without keeping the aspect ratio), where
the maps are compared with them; the pointing margin is in the uploaded image's pixels too.

On a segmentation or detection head the instance's object is also what is explained
(`PreparedAudit.target_regions`, `target_boxes`; `app.jobs.audit.row_targets`): its class
over its region (the mask, or the box's pixels, at the output's grid: pytorch-grad-cam's
`SemanticSegmentationTarget`), or its class on the predicted box that best overlaps its
box (the mask's bounding box), as a request's region and box targets are. A detection
instance therefore needs a box or a mask; segmentation instances all have one or none
(none: each class's predicted pixels, the head's default).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import keras
import numpy as np
from PIL import Image
from scipy.ndimage import distance_transform_edt

from app.engine.capture.frozen.model import FrozenModel
from app.engine.evaluation.pointing import box_mask
from app.engine.methods import BLACKBOX_METHODS, model_methods
from app.engine.targets.heads import Head
from app.errors import ExplainError, InvalidInput
from app.explain.images import prepare_images
from app.explain.options import ExplainOptions, TextInput
from app.explain.texts import prepare_texts
from app.preprocess.image import ImageLimits
from app.registry.served import ServedModel

CHECKS = (
    "pointing",
    "energy-pointing",
    "deletion",
    "insertion",
    "road",
    "randomization",
    "random-logit",
)
REGION_CHECKS = ("pointing", "energy-pointing")
IMAGE_CHECKS = (*REGION_CHECKS, "deletion", "insertion", "road")
THUMBNAIL_SIDE = 96


@dataclass(frozen=True)
class AuditItem:
    label: int
    image: bytes | None = None
    text: TextInput | None = None
    box: tuple[float, float, float, float] | None = None
    mask: bytes | None = None  # a PNG of the image's size
    name: str | None = None  # how the report calls it (a file name); else its index


@dataclass(frozen=True)
class AuditParameters:
    methods: tuple[str, ...] = ("gradcam",)
    checks: tuple[str, ...] = ("pointing", "energy-pointing")
    pointing_margin: float = 15.0
    layer: int | str | None = None
    seed: int = 0
    metric_steps: int = 16
    max_channels: int | None = None


@dataclass
class PreparedAudit:
    labels: np.ndarray  # (N,) int
    inputs: np.ndarray  # (N, ...) as the model takes them
    names: list[str]
    pixels: np.ndarray | None = None  # images: (N, H, W, C) 0..255 at the input size
    regions: np.ndarray | None = None  # (N, H, W) bool: the box or mask
    pointing_regions: np.ndarray | None = None  # the same, grown by the pointing margin
    thumbnails: list[np.ndarray] = field(default_factory=list)  # uint8 RGB, for the report
    offset: int = 0  # the first instance's place in the whole set (a slice on a Ray actor)
    # What each instance explains on a segmentation or a detection head (else its label):
    target_regions: np.ndarray | None = None  # (N, h', w') bool: its object at the grid
    target_boxes: np.ndarray | None = None  # (N, 4) its box, xyxy in [0, 1] of the input


def check_parameters(served: ServedModel, params: AuditParameters) -> None:
    available = BLACKBOX_METHODS if served.remote else model_methods(served.model)
    for method in params.methods:
        if method not in available:
            raise InvalidInput(f"method {method} is not available for model {served.id}")
        # Compiled now (and kept): a method refused on this layer or head (FinerCAM on a
        # segmentation head, KPCA-CAM on too many positions) is a 422, not a failed job.
        served.gradcam(params.layer, method)
    unknown = [check for check in params.checks if check not in CHECKS]
    if unknown:
        raise InvalidInput(f"unknown check {unknown[0]!r}; known: {', '.join(CHECKS)}")
    if served.card.task != "image":
        image_only = [check for check in params.checks if check in IMAGE_CHECKS]
        if image_only:
            raise InvalidInput(f"check {image_only[0]} needs an image model")
    if "randomization" in params.checks and not isinstance(served.model, keras.Model):
        kind = (
            "a SavedModel's frozen graph"
            if isinstance(served.model, FrozenModel)
            else "a remote endpoint (the service holds no weights)"
        )
        raise InvalidInput(
            f"randomization re-draws a Keras model's weights; model {served.id} is {kind}, "
            "with none to re-draw"
        )
    if not math.isfinite(params.pointing_margin) or params.pointing_margin < 0:
        raise InvalidInput("pointing_margin must be a finite number of pixels >= 0")


def prepare_audit(
    served: ServedModel, items: list[AuditItem], params: AuditParameters, limits: ImageLimits
) -> PreparedAudit:
    check_parameters(served, params)
    n_classes = served.n_classes
    for index, item in enumerate(items):
        if not 0 <= item.label < n_classes:
            raise InvalidInput(
                f"instances[{index}].label {item.label} is out of range [0, {n_classes}) "
                f"for model {served.id}"
            )
    labels = np.array([item.label for item in items], dtype=np.int32)
    names = [item.name or f"#{index}" for index, item in enumerate(items)]
    if served.card.task == "text":
        texts = [item.text for item in items]
        if any(text is None for text in texts):
            raise InvalidInput(f"model {served.id} explains texts; every instance needs one")
        prepared = prepare_texts(served, [t for t in texts if t is not None], ExplainOptions())
        return PreparedAudit(labels, prepared.inputs, names)
    return prepare_image_audit(served, items, params, limits, labels, names)


def prepare_image_audit(
    served: ServedModel,
    items: list[AuditItem],
    params: AuditParameters,
    limits: ImageLimits,
    labels: np.ndarray,
    names: list[str],
) -> PreparedAudit:
    inputs, pixels, regions, grown, thumbnails, boxes = [], [], [], [], [], []
    head = served_head(served)
    needs_region = region_reason(head, params)
    for index, item in enumerate(items):
        if item.image is None:
            raise InvalidInput(f"instances[{index}] has no image; model {served.id} takes images")
        try:
            prepared = prepare_images(served, [item.image], limits)
        except ExplainError as exc:
            raise type(exc)(f"instances[{index}]: {exc.detail}", headers=exc.headers) from None
        inputs.append(prepared.inputs)
        pixels.append(prepared.pixels)
        original = prepared.images[0]
        thumbnails.append(thumbnail(original))
        size = prepared.pixels.shape[1:3]
        if item.box is not None or item.mask is not None:
            region, pointing = item_regions(item, index, original.size, size, params)
            regions.append(region)
            grown.append(pointing)
            boxes.append(target_box(item, region, original.size))
        elif needs_region:
            raise InvalidInput(f"instances[{index}] has no box or mask; {needs_region}")
    segmentation = head is not None and head.kind == "segmentation"
    if segmentation and regions and len(regions) < len(items):  # all or none
        index = next(i for i, item in enumerate(items) if item.box is None and item.mask is None)
        raise InvalidInput(
            f"instances[{index}] has no box or mask; on a segmentation model the instances "
            "all have one (the region explained) or none do (the predicted pixels)"
        )
    audit = PreparedAudit(labels, np.concatenate(inputs), names, np.concatenate(pixels))
    audit.thumbnails = thumbnails
    if regions and len(regions) == len(items):
        audit.regions, audit.pointing_regions = np.stack(regions), np.stack(grown)
        if segmentation:
            assert head is not None
            audit.target_regions = grid_regions(audit.regions, head.grid)
        elif head is not None and head.kind == "detection":
            audit.target_boxes = np.array(boxes, dtype=np.float32)
    return audit


def region_reason(head: Head | None, params: AuditParameters) -> str | None:
    """Why every instance needs a box or a mask (None: it need not)."""
    if head is not None and head.kind == "detection":
        return "a detection model explains the predicted box that best overlaps it"
    asked = [check for check in params.checks if check in REGION_CHECKS]
    return f"the {asked[0]} check needs one" if asked else None


def served_head(served: ServedModel) -> Head | None:
    """The head of the output the audit explains (None: a classifier without a card's)."""
    return None if served.heads is None else served.heads.head(None)


def target_box(
    item: AuditItem, region: np.ndarray, image_size: tuple[int, int]
) -> tuple[float, float, float, float]:
    """The instance's box as xyxy in [0, 1]: its box, or its mask's bounding box."""
    if item.box is not None:
        width, height = image_size
        x0, y0, x1, y1 = item.box
        return (x0 / width, y0 / height, x1 / width, y1 / height)
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    height, width = region.shape
    return (cols[0] / width, rows[0] / height, (cols[-1] + 1) / width, (rows[-1] + 1) / height)


def grid_regions(regions: np.ndarray, grid: tuple[int, ...]) -> np.ndarray:
    """`(N, H, W)` objects at the input size -> `(N, h', w')` at the output's grid
    (nearest, as a request's mask target); an object that vanishes there is refused."""
    if tuple(regions.shape[1:]) == tuple(grid):
        return regions
    found = []
    for index, region in enumerate(regions):
        picture = Image.fromarray(region.astype(np.uint8) * 255)
        small = np.asarray(picture.resize((grid[1], grid[0]), Image.Resampling.NEAREST)) > 0
        if not small.any():
            raise InvalidInput(
                f"instances[{index}]'s object has no pixel at the output's {grid[0]}x{grid[1]} grid"
            )
        found.append(small)
    return np.stack(found)


def item_regions(
    item: AuditItem,
    index: int,
    image_size: tuple[int, int],
    input_size: tuple[int, int],
    params: AuditParameters,
) -> tuple[np.ndarray, np.ndarray]:
    """The object `(H, W)` at the input size, and the same grown by the pointing margin."""
    width, height = image_size
    scale_x, scale_y = input_size[1] / width, input_size[0] / height
    margin = params.pointing_margin
    if item.box is not None:
        x0, y0, x1, y1 = check_box(item.box, index, image_size)
        scaled = (x0 * scale_x, y0 * scale_y, x1 * scale_x, y1 * scale_y)
        grown = (
            (x0 - margin) * scale_x,
            (y0 - margin) * scale_y,
            (x1 + margin) * scale_x,
            (y1 + margin) * scale_y,
        )
        return box_mask(scaled, input_size), box_mask(grown, input_size)
    assert item.mask is not None  # the caller asks only for an instance with one
    region = read_mask(item.mask, index, image_size, input_size)
    # The margin grows the mask by that distance, in input pixels along the mean axis.
    distance = distance_transform_edt(~region)
    return region, np.asarray(distance <= margin * (scale_x + scale_y) / 2)


def check_box(
    box: tuple[float, ...], index: int, image_size: tuple[int, int]
) -> tuple[float, float, float, float]:
    width, height = image_size
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise InvalidInput(f"instances[{index}].box must be four finite numbers [x0, y0, x1, y1]")
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise InvalidInput(
            f"instances[{index}].box {list(box)} is not a box inside the {width}x{height} image "
            "(0 <= x0 < x1 <= width, 0 <= y0 < y1 <= height)"
        )
    return x0, y0, x1, y1


def read_mask(
    data: bytes, index: int, image_size: tuple[int, int], input_size: tuple[int, int]
) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.format != "PNG":
                raise ValueError("not a PNG")
            mask = opened.convert("L")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidInput(f"instances[{index}].mask is not a PNG image ({exc})") from None
    if mask.size != image_size:
        raise InvalidInput(
            f"instances[{index}].mask is {mask.size[0]}x{mask.size[1]}; "
            f"its image is {image_size[0]}x{image_size[1]}"
        )
    resized = mask.resize((input_size[1], input_size[0]), Image.Resampling.NEAREST)
    region = np.asarray(resized) > 0
    if not region.any():
        raise InvalidInput(f"instances[{index}].mask is empty (no non-zero pixel)")
    return region


def thumbnail(image: Image.Image) -> np.ndarray:
    small = image.convert("RGB")
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    return np.asarray(small)
