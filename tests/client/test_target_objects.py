"""Target objects in the client: what it sends, and the answer's regions and boxes parsed."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
from gradcam_client import Client, box_target, output_target, region_target
from PIL import Image

ANSWER = {
    "model_id": "det",
    "model_version": "1",
    "method": "gradcam",
    "layer": "feat",
    "predictions": [[0.1, 0.9]],
    "output": "scores",
    "explanations": [
        {
            "image": {"width": 32, "height": 32},
            "segmentation": [[0, 1], [1, 1]],
            "detections": [{"box": [1, 2, 10, 12], "class": 1, "label": "b", "score": 0.9}],
            "targets": [
                {
                    "target": 1, "label": "b", "score": 0.9, "scale": 1.0, "heatmap": [[0.5]],
                    "output": "scores", "kind": "box", "box": [1, 2, 10, 12], "iou": 0.8,
                },
            ],
        }
    ],
}  # fmt: skip


INFO = {
    "id": "det", "version": "1", "task": "image", "ready": True, "input_shape": [None, 16, 16, 3],
    "n_classes": 2, "labels": ["a", "b"], "default_layer": "feat",
}  # fmt: skip
JSON = {"content-type": "application/json"}
ANSWERS = [(200, JSON, json.dumps(ANSWER).encode()), (200, JSON, json.dumps(INFO).encode())]


def png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size).save(buffer, format="PNG")
    return buffer.getvalue()


def test_target_objects_are_json_with_the_mask_as_png(stub):
    url, script = stub
    script.answers = ANSWERS
    mask = np.zeros((32, 32), bool)
    mask[4:8, 4:8] = True
    targets = [1, region_target(2, mask), box_target(None, (1, 2, 10, 12)), output_target("x", 0)]
    with Client(url) as client:
        result = client.explain_image("det", png((32, 32)), targets=targets)
    sent = json.loads(script.bodies[0])["parameters"]["targets"]
    assert sent[0] == 1
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(sent[1]["mask"]["b64"]))))
    assert sent[1]["class"] == 2 and (decoded != 0).sum() == 16 and decoded[5, 5] == 255
    assert sent[2] == {"class": None, "box": [1.0, 2.0, 10.0, 12.0]}
    assert sent[3] == {"output": "x", "class": 0}
    explanation = result.explanation
    assert explanation.segmentation is not None and explanation.segmentation.tolist() == [
        [0, 1],
        [1, 1],
    ]
    assert explanation.detections is not None and explanation.detections[0].cls == 1
    target = explanation.targets[0]
    assert (target.kind, target.box, target.iou, target.output) == (
        "box",
        (1, 2, 10, 12),
        0.8,
        "scores",
    )


def test_a_large_image_with_target_objects_still_goes_as_json(stub):
    url, script = stub
    script.answers = ANSWERS
    big = np.random.default_rng(0).integers(0, 256, (600, 600, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(big).save(buffer, format="PNG")
    with Client(url) as client:
        client.explain_image("det", buffer.getvalue(), targets=[box_target(1, (0, 0, 5, 5))])
    sent = zip(script.headers, script.paths, strict=True)
    explain = [headers for headers, path in sent if ":explain" in path]
    assert explain[0]["content-type"] == "application/json"
