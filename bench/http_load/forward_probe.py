"""A child process holding the model, timing in-process work on request (a bare forward,
preprocessing, a compiled Grad-CAM, the drawing step by step): the frontend phase's scale,
measured side by side with the requests, under the same load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
from PIL import Image

from bench.http_load.traffic import test_image
from bench.server import ROOT


def forward_child(model: str, threads: int) -> None:
    """Time, on request, what a request costs in-process: each stdin line N answers a JSON
    object of N times in ms for a bare compiled forward (batch 1) of `model`, the
    preprocessing of the test JPEG (decode, resize, scaling), a compiled Grad-CAM of it
    at the default layer, and drawing its map as the server does (the composite as a
    JPEG data URL, the default, and as a PNG; the layer as a PNG), with the composite's
    steps apart. Run in a child process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from app.engine.runtime.devices import configure_devices
    from app.explain.images import prepare_images
    from app.explain.options import ExplainOptions
    from app.explain.overlays import overlay_drawer
    from app.preprocess.image import ImageLimits, cap_longest_side
    from app.registry.registry import load_registry
    from app.render.encode import data_url, encode_image
    from app.render.overlay import heatmap_layer, paste_overlay
    from app.settings import Settings

    configure_devices(threads or None)
    served = next(s for s in load_registry(Settings().models_dir) if s.id == model)
    forward = tf.function(lambda t: served.model(t, training=False))
    shape = [1, *served.model.inputs[0].shape[1:]]
    x = np.random.default_rng(0).uniform(-1, 1, shape).astype("float32")
    jpeg, limits = test_image(), ImageLimits()
    gradcam = served.gradcam(None, "gradcam")
    prepared = prepare_images(served, [jpeg], limits)
    heatmap = gradcam.explain(prepared.inputs).heatmaps[0]
    drawers = {
        (kind, fmt): overlay_drawer(prepared.images[0], ExplainOptions(overlay=overlay), fmt)
        for kind, overlay, fmt in (
            ("composite", True, "jpeg"),
            ("composite", True, "png"),
            ("layer", "layer", "png"),
        )
    }

    def draw(kind: str, fmt: str) -> str:
        drawer = drawers[(kind, fmt)]
        assert drawer is not None  # both kinds draw
        return data_url(encode_image(drawer(heatmap), fmt), fmt)

    # The composite's steps, as paste_overlay / blend_overlay and add_overlay take them.
    shown = cap_longest_side(prepared.images[0], ExplainOptions().overlay_max_side)
    full_layer = heatmap_layer(heatmap, shown.size)
    composite = Image.alpha_composite(shown.convert("RGBA"), full_layer)
    pasted = paste_overlay(shown, heatmap)
    jpeg_overlay = encode_image(pasted, "jpeg")

    def paste_step() -> None:
        shown.convert("RGB").paste(full_layer, (0, 0), full_layer)

    work = {
        "forward": lambda: forward(x).numpy(),
        "preprocess": lambda: prepare_images(served, [jpeg], limits),
        "gradcam": lambda: gradcam.explain(prepared.inputs),
        "composite": lambda: draw("composite", "jpeg"),
        "composite png": lambda: draw("composite", "png"),
        "layer": lambda: draw("layer", "png"),
        "step: colour + upscale to 640x480": lambda: heatmap_layer(heatmap, shown.size),
        "step: paste over the photo (JPEG)": paste_step,
        "step: alpha composite (PNG)": lambda: Image.alpha_composite(
            shown.convert("RGBA"), full_layer
        ),
        "step: JPEG encode": lambda: encode_image(pasted, "jpeg"),
        "step: PNG encode": lambda: encode_image(composite, "png"),
        "step: base64 data URL of the JPEG": lambda: data_url(jpeg_overlay, "jpeg"),
    }
    for _ in range(5):
        for run in work.values():
            run()  # trace and warm up
    print("ready", flush=True)
    for line in sys.stdin:
        times: dict[str, list[float]] = {name: [] for name in work}
        for _ in range(int(line)):
            for name, run in work.items():
                start = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - start) * 1000)
        print(json.dumps(times), flush=True)


class ForwardProbe:
    """A child process holding the model, asked for a few forwards between requests, so
    the forward is measured side by side with the requests, under the same load."""

    def __init__(self, model: str, threads: int = 1) -> None:
        command = [sys.executable, "-m", "bench.http_load", "--forward-of", model]
        command += ["--threads", str(threads)]
        self.child = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert self.child.stdout is not None
        while self.child.stdout.readline().strip() != "ready":
            if self.child.poll() is not None:
                raise RuntimeError("the forward child exited")

    def measure(self, count: int) -> dict[str, list[float]]:
        """`count` rounds of a forward, a preprocessing and a Grad-CAM: ms of each."""
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write(f"{count}\n")
        self.child.stdin.flush()
        return json.loads(self.child.stdout.readline())

    def close(self) -> None:
        self.child.kill()
        self.child.wait()
