"""Models the benchmarks build for themselves: the bundled folder holds only real demos.

`mobilenet_v2` is keras.applications.MobileNetV2 at 224x224 with random seeded weights
(seed 0), served through a card in a temporary models folder: the model the README's
engine_threads figures were measured on. `efficientnet_lite0` is the bundled one.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_MODELS = ("efficientnet_lite0", "mobilenet_v2")
MOBILENET_V2_CARD = """id = "mobilenet_v2"
task = "image"
description = "keras.applications.MobileNetV2, random seeded weights: for benchmarks only."

[architecture]
name = "MobileNetV2"
weights = "none"
seed = 0
input_shape = [224, 224, 3]

[image]
size = [224, 224]
scaling = "keras.applications.mobilenet_v2"
"""


@contextlib.contextmanager
def models_dir_with(model_id: str) -> Iterator[Path]:
    """A models folder holding just `model_id` (a temporary one for mobilenet_v2)."""
    if model_id == "efficientnet_lite0":
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / model_id
            folder.mkdir()
            for item in (ROOT / "models" / model_id).iterdir():
                (folder / item.name).write_bytes(item.read_bytes())
            yield Path(scratch)
        return
    if model_id != "mobilenet_v2":
        raise ValueError(f"no benchmark model {model_id!r}; one of {BENCH_MODELS}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / model_id
        folder.mkdir()
        (folder / "model.toml").write_text(MOBILENET_V2_CARD, encoding="utf-8")
        yield Path(scratch)
