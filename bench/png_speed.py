"""PNG overlay encoding: ours (numpy Up filter + ISA-L) vs libpng vs Pillow.

    python -m bench.png_speed [--repeats 50]

Each encoder gets the same 640x480 overlay (`blend_overlay` of a 7x7 heatmap on a
decoded JPEG), timed side by side in one run. Two images: bench.http_load's request
(a gradient with shapes, smooth) and a noisy photo-like one (harder to deflate).
Prints median ms, bytes, and each encoder's time and size relative to ours.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable

import numpy as np
from PIL import Image

from app.render.encode import encode_image
from app.render.overlay import blend_overlay
from bench.http_load import test_image
from bench.timing import median_ms

try:
    import imagecodecs
except ImportError:  # a dev dependency; the service itself no longer needs it
    imagecodecs = None

OURS = "ours: encode_image(png)"


def decoded_jpeg(pixels: np.ndarray | None = None) -> Image.Image:
    """A 640x480 upload as the service sees it: JPEG (quality 90) decoded to RGB."""
    if pixels is None:
        data = test_image()
    else:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
        data = buffer.getvalue()
    return Image.open(io.BytesIO(data)).convert("RGB")


def noisy_photo() -> np.ndarray:
    """(480, 640, 3) uint8: the shapes image plus Gaussian sensor-like noise (sigma 6)."""
    base = np.asarray(decoded_jpeg(), dtype=np.float32)
    noise = np.random.default_rng(0).normal(0, 6, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def overlays() -> dict[str, Image.Image]:
    heatmap = np.random.default_rng(1).uniform(0, 1, (7, 7))
    images = {
        "shapes (bench.http_load)": decoded_jpeg(),
        "noisy photo": decoded_jpeg(noisy_photo()),
    }
    return {name: blend_overlay(image, heatmap) for name, image in images.items()}


def pillow_png(overlay: Image.Image) -> bytes:
    buffer = io.BytesIO()
    overlay.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def encoders(overlay: Image.Image) -> dict[str, Callable[[], bytes]]:
    rgba = np.asarray(overlay)
    runs: dict[str, Callable[[], bytes]] = {OURS: lambda: encode_image(overlay, "png")}
    if imagecodecs is not None:
        settings = {"level": 1, "strategy": 3, "filter": 16}
        runs["old: libpng level 1 on RGBA"] = lambda: imagecodecs.png_encode(rgba, **settings)
    runs["Pillow compress_level=1 (RGBA)"] = lambda: pillow_png(overlay)
    return runs


def report(name: str, overlay: Image.Image, repeats: int) -> None:
    expected = np.asarray(overlay.convert("RGB"))
    results = {}
    for label, run in encoders(overlay).items():
        data = bytes(run())
        decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        assert np.array_equal(decoded, expected), f"{label} is not lossless"
        results[label] = (median_ms(run, repeats), len(data))
    ours_ms, ours_bytes = results[OURS]
    print(
        f"\n{name}, {overlay.size[0]}x{overlay.size[1]} {overlay.mode} overlay: median of {repeats}"
    )
    for label, (ms, size) in results.items():
        print(
            f"  {label:32s} {ms:7.2f} ms {size / 1000:8.1f} KB"
            f"   {ms / ours_ms:5.2f}x ours' time, {size / ours_bytes:5.2f}x ours' size"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    if imagecodecs is None:
        print("imagecodecs not installed: no libpng rows")
    for name, overlay in overlays().items():
        report(name, overlay, args.repeats)


if __name__ == "__main__":
    main()
