"""Request kinds that arrived with the later work: uploads of any size and format, TF
Serving's `:predict`, the black-box methods (on a local model and on `shapes_remote`, a
remote card that calls this same server's `:predict`), and audit jobs followed through
their life (202, polled to the end, the report read)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from bench.soak.heads import png
from bench.soak.mix import EXPLAIN, Inputs, Kind, Request, b64, form, json_images

Rng = np.random.Generator
E, S = "efficientnet_lite0", "shapes"
REMOTE = "shapes_remote"
FORMATS = (("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"))
LARGEST = 800  # a side of the noise uploads, multipart
JSON_LARGEST = 300  # in JSON bodies: base64 PNG noise stays under the 1 MiB JSON limit


def noise(rng: Rng, largest: int) -> tuple[bytes, str]:
    """Noise of a random size and format: every upload decodes, resizes and overlays
    at a size of its own."""
    width, height = (int(side) for side in rng.integers(16, largest, 2))
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    fmt, mime = FORMATS[int(rng.integers(len(FORMATS)))]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue(), mime


def any_size_upload(rng: Rng, io_: Inputs) -> Request:
    overlay = ["true", "layer", "false"][int(rng.integers(3))]
    fields = {"overlay": overlay, "overlay_format": "png" if overlay == "layer" else "jpeg"}
    return form(E, noise(rng, LARGEST), fields)


def any_size_json(rng: Rng, io_: Inputs) -> Request:
    images = [noise(rng, JSON_LARGEST)[0] for _ in range(int(rng.integers(1, 3)))]
    return json_images(S, images, {"method": "layercam", "overlay_format": "webp"})


def predict_images(rng: Rng, io_: Inputs) -> Request:
    instances = [b64(io_.photo), b64(noise(rng, JSON_LARGEST)[0])]
    return Request(f"{E} predict", f"/v1/models/{E}:predict", {"json": {"instances": instances}})


def predict_tensors(rng: Rng, io_: Inputs) -> Request:
    tensor = rng.random((int(rng.integers(1, 4)), 64, 64, 3)).round(3).tolist()
    return Request(f"{S} predict", f"/v1/models/{S}:predict", {"json": {"instances": tensor}})


def black_box(model: str, method: str, **options: object) -> Kind:
    def kind(rng: Rng, io_: Inputs) -> Request:
        target = int(rng.integers(4))
        parameters = {"method": method, "targets": [target], **options}
        request = json_images(model, [io_.shapes["png64"][0]], parameters)
        return Request(f"{model} {method}", request.path, request.send)

    return kind


def audit(rng: Rng, io_: Inputs) -> Request:
    """An audit of a few labelled shapes, followed to its report. Randomisation copies
    the model each job: a copy kept after the job would show here."""
    from training.shapes_data import make_shapes

    images, labels, boxes = make_shapes(4, seed=int(rng.integers(1 << 20)))
    instances = [
        {"image": b64(png(image)), "label": int(label), "box": [int(v) for v in box]}
        for image, label, box in zip(images, labels, boxes, strict=True)
    ]
    checks = ["pointing", "energy-pointing", "randomization", "random-logit", "deletion"]
    parameters = {"methods": ["gradcam", "gradcam++"], "checks": checks}
    body = {"instances": instances, "parameters": parameters}
    path = f"/v1/models/{S}:audit"
    return Request(f"{S} audit", path, {"json": body}, ok=(202,), follow_job=True)


def remote_card(base: str) -> str:
    """A remote card for this server's own `shapes` (a second predictor in the same
    process: what a sidecar explainer does, without a second server)."""
    return (
        f'id = "{REMOTE}"\ntask = "image"\nremote = "{base}/v1/models/{S}"\n'
        'labels_file = "labels.txt"\nremote_batch = 16\nremote_timeout = 60.0\n'
        "[image]\nsize = [64, 64]\n"
    )


def extra_kinds() -> list[Kind]:
    return [
        any_size_upload,
        predict_images,
        black_box(S, "occlusion"),
        any_size_json,
        black_box(REMOTE, "occlusion", occlusion_window=16),
        audit,
        predict_tensors,
        black_box(S, "rise", rise_masks=200, seed=5, overlay="layer"),
        any_size_upload,
        black_box(REMOTE, "rise", rise_masks=64, seed=9, overlay=False),
    ]


def bad_extras() -> list[Kind]:
    """Refusals of the later work: a gradient method on a remote model, a box outside
    the image, a mask of the wrong size, an audit with a label out of range."""

    def gradient_on_remote(rng: Rng, io_: Inputs) -> Request:
        request = json_images(REMOTE, [io_.shapes["png64"][0]], {"method": "gradcam"})
        return Request("bad: gradcam on a remote", request.path, request.send, bad=True)

    def box_outside(rng: Rng, io_: Inputs) -> Request:
        shown = io_.scenes[0]
        target = {"class": 0, "box": [50, 50, 90, 90]}
        request = json_images("shapes_det", [shown.png], {"targets": [target]})
        return Request("bad: box outside", request.path, request.send, bad=True)

    def mask_size(rng: Rng, io_: Inputs) -> Request:
        mask = png(np.full((10, 20), 255, np.uint8))
        target = {"class": 1, "mask": b64(mask)}
        request = json_images("shapes_seg", [io_.scenes[0].png], {"targets": [target]})
        return Request("bad: mask size", request.path, request.send, bad=True)

    def audit_label(rng: Rng, io_: Inputs) -> Request:
        body = {"instances": [{"image": b64(io_.shapes["png64"][0]), "label": 9}]}
        return Request(
            "bad: audit label",
            EXPLAIN.format(S).replace(":explain", ":audit"),
            {"json": body},
            bad=True,
        )

    return [gradient_on_remote, box_outside, mask_size, audit_label]
