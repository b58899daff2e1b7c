"""The head table: a head built from its name and the model's output shapes, checked.

A card whose head contradicts the model's outputs (detection without the named outputs,
segmentation on a rank-2 output, ...) is refused here with the mismatch named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.engine.targets.boxes import BOX_FORMATS
from app.engine.targets.heads import DetectionHead, Head, SegmentationHead

HEAD_KINDS = ("classifier", "multilabel", "regression", "segmentation", "detection")
VECTOR_HEADS = ("classifier", "multilabel", "regression")  # (B, n) outputs

Shape = tuple[int | None, ...]


class HeadMismatch(ValueError):
    """A head that the model's outputs contradict."""


@dataclass(frozen=True)
class DetectionSpec:
    boxes_output: str
    scores_output: str
    box_format: str = "xyxy"
    box_units: str = "normalized"  # or "pixels" of the model input
    score_threshold: float = 0.5
    iou_threshold: float = 0.5


def make_head(
    kind: str,
    output: str,
    shapes: Mapping[str, Shape],
    *,
    input_size: tuple[int, int] | None = None,
    detection: DetectionSpec | None = None,
) -> Head:
    """The head `kind` for `output` (detection: its scores output); `shapes` are the
    model's output shapes by name, `input_size` (W, H) of the model input."""
    if kind not in HEAD_KINDS:
        raise HeadMismatch(f"head must be one of {', '.join(HEAD_KINDS)}, not {kind!r}")
    if kind == "detection":
        return detection_head(shapes, input_size, detection)
    shape = output_shape(shapes, output)
    if kind in VECTOR_HEADS:
        if len(shape) != 2:
            raise HeadMismatch(f"head {kind} needs a (batch, n) output; {output!r} is {shape}")
        return Head(kind, output, int(shape[-1] or 0))
    if len(shape) != 4 or None in shape[1:]:
        raise HeadMismatch(
            "head segmentation needs a (batch, height, width, classes) output; "
            f"{output!r} is {shape}"
        )
    return SegmentationHead(
        kind, output, int(shape[-1] or 0), (int(shape[1] or 0), int(shape[2] or 0))
    )


def detection_head(
    shapes: Mapping[str, Shape], input_size: tuple[int, int] | None, spec: DetectionSpec | None
) -> DetectionHead:
    if spec is None:
        raise HeadMismatch("head detection needs a [detection] table")
    boxes = output_shape(shapes, spec.boxes_output)
    scores = output_shape(shapes, spec.scores_output)
    if len(boxes) != 3 or boxes[-1] != 4:
        raise HeadMismatch(
            f"detection boxes {spec.boxes_output!r} must be (batch, boxes, 4), not {boxes}"
        )
    if len(scores) != 3 or scores[1] != boxes[1]:
        raise HeadMismatch(
            f"detection scores {spec.scores_output!r} must be (batch, boxes, classes) with the "
            f"boxes' count: {scores} vs {boxes}"
        )
    if spec.box_format not in BOX_FORMATS:
        raise HeadMismatch(f"box_format must be one of {', '.join(BOX_FORMATS)}")
    scale = (1.0, 1.0)
    if spec.box_units == "pixels":
        if input_size is None:
            raise HeadMismatch("box_units pixels needs an image model with a fixed input size")
        scale = (float(input_size[0]), float(input_size[1]))
    return DetectionHead(
        "detection", spec.scores_output, int(scores[-1] or 0), (), spec.boxes_output,
        spec.box_format, scale, spec.score_threshold, spec.iou_threshold,
    )  # fmt: skip


def output_shape(shapes: Mapping[str, Shape], name: str) -> Shape:
    if name not in shapes:
        raise HeadMismatch(f"the model has no output {name!r} (outputs: {', '.join(shapes)})")
    return shapes[name]
