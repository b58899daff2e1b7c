"""A request's targets meet its images: masks and boxes checked against each upload and
mapped to the model (the output's grid, the input's [0, 1] coordinates); after the engine,
each region and box checked for an answer (an empty region, a box matching nothing)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.engine.targets.heads import DetectionHead, Head
from app.engine.targets.results import CamBatch
from app.engine.targets.rows import TOP, Target
from app.errors import (
    BoxOutsideImage,
    EmptyRegion,
    InvalidInput,
    MaskSizeMismatch,
    NoMatchingBox,
    TargetNotTaken,
)
from app.explain.options import RequestTarget
from app.preprocess.mask import inside_at_grid, open_mask

Size = tuple[int, int]  # (width, height) of an upload
Item = int | RequestTarget


def requested_output(targets: Sequence[Item] | None) -> str | None:
    """The one output a request's targets name (None: the default)."""
    named = {t.output for t in targets or () if isinstance(t, RequestTarget) and t.output}
    if len(named) > 1:
        raise InvalidInput(f"one output per request; these targets name {sorted(named)}")
    return named.pop() if named else None


def engine_targets(
    targets: Sequence[Item] | None, head: Head, sizes: Sequence[Size] | None
) -> list[list[int | Target]] | list[int | Target] | None:
    """Per sample, its targets with masks and boxes mapped for the model (`sizes`: each
    upload's); text (`sizes` None): one list for every sample."""
    if targets is None:
        return None
    if sizes is None:  # text: one list for every sample
        return [engine_target(t, head, None) for t in targets]
    return [[engine_target(t, head, size) for t in targets] for size in sizes]


def engine_target(item: Item, head: Head, size: Size | None) -> int | Target:
    if isinstance(item, int):
        return item
    cls = TOP if item.cls is None else item.cls
    if item.mask is not None:
        if head.kind != "segmentation" or size is None:
            raise TargetNotTaken(
                f"a mask targets a segmentation output; {head.output!r} is {head.kind}"
            )
        return Target(cls, region=mask_region(item.mask, size, head.grid))
    if item.box is not None:
        if head.kind != "detection" or size is None:
            raise TargetNotTaken(
                f"a box targets a detection output; {head.output!r} is {head.kind}"
            )
        return Target(cls, box=normalised_box(item.box, size))
    return Target(cls)


def mask_region(png: bytes, size: Size, grid: tuple[int, ...]) -> np.ndarray:
    """The mask (non-zero = inside) at the output's grid `(h', w')`, sampled nearest.
    Its size is checked from the header, before any pixel is decoded."""
    mask = open_mask(png)
    if mask.size != size:
        raise MaskSizeMismatch(
            f"the mask is {mask.size[0]}x{mask.size[1]}; the image is {size[0]}x{size[1]} "
            "(width x height): send the mask at the uploaded image's size"
        )
    region = inside_at_grid(mask, grid)
    if not region.any():
        raise EmptyRegion(f"the mask has no pixel inside at the output's {grid[0]}x{grid[1]} grid")
    return region


def normalised_box(
    box: tuple[float, float, float, float], size: Size
) -> tuple[float, float, float, float]:
    """[x0, y0, x1, y1] in the upload's pixels -> [0, 1] of the model input (the upload is
    resized whole to the input, so relative coordinates are kept)."""
    x0, y0, x1, y1 = box
    width, height = size
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise BoxOutsideImage(
            f"box {list(box)} is not inside the {width}x{height} image with x0 < x1 and y0 < y1"
        )
    return (x0 / width, y0 / height, x1 / width, y1 / height)


def check_answered(head: Head, cams: CamBatch, targets: Sequence[object] | None) -> None:
    """A region with no pixel (the class predicted nowhere) or a box that no prediction
    overlaps enough: the request cannot be answered. `targets` as `engine_targets` made
    them (a detection's are per sample: it explains images)."""
    if cams.quality is None:
        return
    if head.kind == "segmentation":
        empty = np.flatnonzero(cams.quality <= 0)
        if len(empty):
            row = int(empty[0])
            raise EmptyRegion(
                f"class {int(cams.targets[row])} is predicted on no pixel of instance "
                f"{int(cams.sample[row])}: send a mask, or another class"
            )
    if isinstance(head, DetectionHead) and targets is not None:
        per_sample = [ts if isinstance(ts, list) else [ts] for ts in targets]
        asked = [isinstance(t, Target) and t.box is not None for ts in per_sample for t in ts]
        for row, wanted in enumerate(asked[: len(cams.quality)]):
            if wanted and cams.quality[row] < head.iou_threshold:
                sample = int(cams.sample[row])
                position = row - int(np.flatnonzero(cams.sample == sample)[0])
                raise NoMatchingBox(
                    f"no predicted box overlaps target {position} of instance {sample} "
                    f"with IoU >= {head.iou_threshold:g}; the best IoU is {cams.quality[row]:.3f}"
                )
