"""Grad-CAM per image: the same model as a SavedModel (frozen graph) vs its .keras file.

    python -m bench.savedmodel_speed [--repeats 20] [--rounds 3] [--saved-model DIR]

The bundled efficientnet_lite0 is exported with Keras 3's `model.export()` into a temp
folder (or DIR, kept for the next run), loaded by the registry's SavedModel loader, and
explained at its default layer next to the .keras model as the service runs it (its
BatchNormalizations folded) and unfolded. Timings alternate between the models in
`rounds` rounds; each figure is the median over rounds of the median of `repeats` calls,
so the ratios hold on a busy machine. Goal: SavedModel / .keras <= 1.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from app.engine.capture.keras.fold import FoldPlan
from app.engine.runtime.gradcam import GradCam
from app.registry.card import ModelCard
from app.registry.formats.savedmodel.load import is_saved_model, load_saved_model
from bench.timing import median_ms

MODEL = Path(__file__).resolve().parents[1] / "models" / "efficientnet_lite0" / "model.keras"
LAYER = "top_activation"
CARD = ModelCard(id="efficientnet_lite0", task="image", model_file="sm", image={"size": (224, 224)})


def load_both(folder: Path) -> tuple[keras.Model, object]:
    model = keras.saving.load_model(MODEL, compile=False, safe_mode=True)
    if not is_saved_model(folder):
        model.export(str(folder), verbose=False)
    return model, load_saved_model(folder, CARD)


def timings(model: keras.Model, frozen: object, batch: int, repeats: int, rounds: int) -> dict:
    rng = np.random.default_rng(batch)
    x = rng.uniform(-1, 1, (batch, 224, 224, 3)).astype(np.float32)
    engines = {
        ".keras (BN folded, as served)": GradCam(model, LAYER),
        ".keras, BN not folded": GradCam(model, LAYER, fold=FoldPlan({}, {})),
        "SavedModel (frozen graph)": GradCam(frozen, LAYER),  # type: ignore[arg-type]
    }
    samples: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, engine in engines.items():
            samples[name].append(median_ms(lambda e=engine: e.explain(x), repeats) / batch)
    for name, engine in engines.items():
        assert engine.trace_count == 1, f"{name} retraced during the benchmark"
    return {name: statistics.median(values) for name, values in samples.items()}


def report(batch: int, result: dict[str, float]) -> None:
    keras_ms = result[".keras (BN folded, as served)"]
    print(f"\nbatch {batch}: median ms per image")
    for name, ms in result.items():
        print(f"  {name:32s} {ms:8.2f} ms   {ms / keras_ms:5.2f}x .keras")
    saved = result["SavedModel (frozen graph)"] / keras_ms
    print(f"  SavedModel / .keras              {saved:5.2f}   (goal <= 1.1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--saved-model", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.saved_model or Path(scratch) / "efficientnet_lite0"
        model, frozen = load_both(folder)
        for batch in (1, 8):
            report(batch, timings(model, frozen, batch, args.repeats, args.rounds))


if __name__ == "__main__":
    main()
