"""What an image's answer says of a head: the class map of a segmentation, the detections
after NMS, and for each target what it was (its region, its box and the box's IoU)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.engine.targets.defaults import detections
from app.engine.targets.heads import DetectionHead
from app.engine.targets.results import CamBatch
from app.explain.results import DetectionResult, ExplanationResult, TargetResult
from app.render.outline import draw_box, draw_region

Size = tuple[int, int]  # (width, height) of the upload


def add_instance_answer(
    explanation: ExplanationResult, cams: CamBatch, index: int, labels: tuple[str, ...]
) -> None:
    """`segmentation` (argmax map, the output's grid) or `detections` (image pixels)."""
    head = cams.head
    if head is None or explanation.image is None:
        return
    outputs = {name: values[index : index + 1] for name, values in cams.outputs.items()}
    if head.kind == "segmentation":
        explanation.segmentation = outputs[head.output][0].argmax(axis=-1).tolist()
    if isinstance(head, DetectionHead):
        size = (explanation.image.width, explanation.image.height)
        explanation.detections = [
            DetectionResult(
                in_pixels(found.box, size),
                found.cls,
                labels[found.cls] if found.cls < len(labels) else None,
                found.score,
            )
            for found in detections(head, outputs)[0]
        ]


def add_target_answer(target: TargetResult, cams: CamBatch, row: int, size: Size) -> None:
    """What the row's target was: a region (its cells) or a box (the predicted box
    explained, its IoU with the box asked for)."""
    head = cams.head
    if head is None or cams.quality is None:
        return
    if head.kind == "segmentation":
        target.kind = "region"
        target.region_pixels = round(float(cams.quality[row]))
    if isinstance(head, DetectionHead) and cams.anchors is not None:
        target.kind = "box"
        anchor = int(cams.anchors[row])
        sample = int(cams.sample[row])
        boxes = np.asarray(
            head.boxes({head.boxes_output: cams.outputs[head.boxes_output][sample : sample + 1]})
        )
        x0, y0, x1, y1 = (float(v) for v in boxes[0, anchor])
        target.box = in_pixels((x0, y0, x1, y1), size)
        target.iou = float(cams.quality[row])


def in_pixels(box: tuple[float, float, float, float], size: Size) -> list[float]:
    """A box normalised to the model input, in the upload's pixels (clipped to it)."""
    width, height = size
    x0, y0, x1, y1 = box
    return [
        float(np.clip(x0 * width, 0, width)),
        float(np.clip(y0 * height, 0, height)),
        float(np.clip(x1 * width, 0, width)),
        float(np.clip(y1 * height, 0, height)),
    ]


def outline_target(
    picture: Image.Image, target: TargetResult, cams: CamBatch, row: int, size: Size
) -> Image.Image:
    """The overlay with the target's region edge or box drawn (option draw_targets)."""
    head = cams.head
    if target.box is not None:
        return draw_box(picture, target.box, size)
    if head is not None and head.kind == "segmentation" and cams.regions is not None:
        return draw_region(picture, cams.regions[row].reshape(head.grid))
    return picture
