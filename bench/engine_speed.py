"""Per-image Grad-CAM time on mobilenet_v2 (224x224): engine vs bare forward vs libraries.

    python -m bench.engine_speed [--repeats 30]

All of them are timed in one run on the same machine, so the ratios hold even when
absolute times drift. Prints medians (ms per image) and the ratios.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import eli5
import keras
import numpy as np
import tensorflow as tf
from PIL import Image
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.utils.scores import CategoricalScore

from app.engine.capture.keras.fold import FoldPlan
from app.engine.runtime.gradcam import GradCam
from bench.timing import median_ms

LAYER = "out_relu"


def timings(model: keras.Model, batch: int, repeats: int) -> dict[str, float]:
    """Median milliseconds per image for each implementation at this batch size."""
    rng = np.random.default_rng(batch)
    x = rng.uniform(-1, 1, (batch, 224, 224, 3)).astype(np.float32)
    targets = [[int(t)] for t in rng.integers(0, 1000, batch)]
    forward = tf.function(lambda t: model(t, training=False))
    engine = GradCam(model, LAYER)
    unfolded = GradCam(model, LAYER, fold=FoldPlan({}, {}))
    vis = Gradcam(model, clone=True)
    image = Image.fromarray(np.uint8((x[0] + 1) * 127.5)).convert("RGBA")

    def eli5_all() -> None:  # eli5 explains one sample per call
        for i in range(batch):
            eli5.explain_prediction(
                model, x[i : i + 1], image=image, layer=LAYER, targets=targets[i]
            )

    runs = {
        "bare forward (compiled)": lambda: forward(x).numpy(),
        "engine (compiled Grad-CAM)": lambda: engine.explain(x, targets),
        "engine, norms not folded": lambda: unfolded.explain(x, targets),
        "tf-keras-vis 0.8.7": lambda: vis(
            CategoricalScore([t[0] for t in targets]),
            x,
            penultimate_layer=LAYER,
            normalize_cam=False,
            expand_cam=False,
        ),
        "eli5 0.16.0": eli5_all,
    }
    slow = {"tf-keras-vis 0.8.7": max(5, repeats // 3), "eli5 0.16.0": max(3, repeats // 6)}
    result = {name: median_ms(run, slow.get(name, repeats)) / batch for name, run in runs.items()}
    assert engine.trace_count == 1, "the engine retraced during the benchmark"
    return result


def report(batch: int, result: dict[str, float]) -> None:
    forward = result["bare forward (compiled)"]
    engine = result["engine (compiled Grad-CAM)"]
    print(f"\nbatch {batch}: median ms per image")
    for name, ms in result.items():
        print(f"  {name:28s} {ms:9.2f} ms   {ms / forward:6.2f}x forward")
    folding = result["engine, norms not folded"] / engine
    print(f"  BatchNormalization folding: the engine is {folding:.2f}x faster with it")
    print(f"  engine / bare forward       {engine / forward:6.2f}  (goal <= 1.2 at batch 1)")
    print(
        f"  tf-keras-vis / engine       {result['tf-keras-vis 0.8.7'] / engine:6.1f}  (goal >= 10)"
    )
    print(f"  eli5 / engine               {result['eli5 0.16.0'] / engine:6.1f}  (goal >= 25)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, devices "
        f"{[d.name for d in tf.config.list_logical_devices()]}"
    )
    for batch in (1, 8):
        report(batch, timings(model, batch, args.repeats))


if __name__ == "__main__":
    main()
