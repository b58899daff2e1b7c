"""Occlusion and RISE: cost local vs remote, and RISE's pointing against Grad-CAM's.

    python -m bench.blackbox [--models-dir models] [--photos-dir docs/examples]
        [--rise-masks 2000] [--pointing-images 50]

Cost, on one image each (`shapes`: a generated one; `efficientnet_lite0`: the first
photo of docs/examples), default options (occlusion: windows of an eighth of the side
at half a window's stride; RISE: `--rise-masks` masks of 7x7 cells): seconds and model
calls, local (the compiled forward, 32 images a call) and remote (a second instance of
this service started on 127.0.0.1 as the predictor; `:predict` calls of 64 PNG images,
4 in flight). The machine is shared: seconds are noisy, the call counts are exact.

Pointing: on `--pointing-images` held-out `shapes` images (seed 31337; training used
2024 and 2025), the share of maps whose peak lies in the shape's box + 3 px
(`training.evaluate_shapes.hits`), RISE (local; `--rise-masks` masks) vs Grad-CAM.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from app.engine.methods.blackbox import BlackBoxOptions
from app.engine.runtime.gradcam import GradCam
from app.registry.card import ModelCard
from app.registry.formats.remote.explainer import RemoteExplainer
from app.registry.formats.remote.model import RemoteModel
from bench.method_models import REPO, ImageModel, load_image_model, load_photos
from tests.live_server import live_server
from training.evaluate_shapes import hits
from training.shapes_data import make_shapes

MODELS = ("shapes", "efficientnet_lite0")
HELD_OUT_SEED = 31_337


def counted(gradcam: GradCam) -> list[int]:
    """Counts the calls of the local scorer's compiled forward."""
    calls = [0]
    scorer = gradcam._scorer
    assert scorer is not None
    step = scorer._step

    def counting(inputs: np.ndarray) -> object:
        calls[0] += 1
        return step(inputs)

    scorer._step = counting
    return calls


def local_cost(
    loaded: ImageModel, pixels: np.ndarray, method: str, options: BlackBoxOptions
) -> tuple[float, int]:
    gradcam = GradCam(loaded.model, loaded.layer, method=method)
    gradcam.explain(
        loaded.scaling(pixels),
        pixels=pixels,
        scaling=loaded.scaling,
        blackbox=BlackBoxOptions(occlusion_window=pixels.shape[1], rise_masks=1),
    )  # trace
    calls = counted(gradcam)
    started = time.perf_counter()
    gradcam.explain(
        loaded.scaling(pixels),
        score="output",
        pixels=pixels,
        scaling=loaded.scaling,
        blackbox=options,
    )
    return time.perf_counter() - started, calls[0]


def remote_cost(
    card: ModelCard, pixels: np.ndarray, method: str, options: BlackBoxOptions
) -> tuple[float, int]:
    model = RemoteModel.connect(card)
    assert model.ready, model.error
    explainer = RemoteExplainer(model, method)
    before = model.client.calls
    started = time.perf_counter()
    explainer.explain(pixels, pixels=pixels, blackbox=options)
    seconds = time.perf_counter() - started
    model.client.close()
    return seconds, model.client.calls - before


def remote_card(predictor: str, model_id: str, loaded: ImageModel) -> ModelCard:
    return ModelCard.model_validate(
        {
            "id": model_id,
            "task": "image",
            "remote": f"{predictor}/v1/models/{model_id}",
            "image": {"size": list(loaded.size), "scaling": "unit"},
            # 64 EfficientNet images a call take longer than 30 s on a busy 2-core machine
            "remote_timeout": 600.0,
        }
    )


def bench_image(models_dir: Path, photos_dir: Path, model_id: str) -> tuple[ImageModel, np.ndarray]:
    loaded = load_image_model(models_dir, model_id)
    if model_id == "shapes":
        return loaded, make_shapes(1, HELD_OUT_SEED)[0].astype(np.float32)
    return loaded, load_photos(photos_dir, loaded)[1][:1].astype(np.float32)


def costs(models_dir: Path, photos_dir: Path, rise_masks: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-blackbox-"))
    for model_id in MODELS:
        shutil.copytree(models_dir / model_id, work / "served" / model_id)
    print(
        f"{'model':20s} {'method':10s} {'local s':>8s} {'calls':>6s} {'remote s':>9s} {'calls':>6s}"
    )
    # 64 PNG instances of 224x224 are ~10 MB: above the predictor's default 1 MB JSON limit.
    served = {"models_dir": str(work / "served"), "max_json_bytes": str(64 << 20)}
    with live_server(work, **served) as predictor:
        for model_id in MODELS:
            loaded, pixels = bench_image(models_dir, photos_dir, model_id)
            card = remote_card(predictor, model_id, loaded)
            for method in ("occlusion", "rise"):
                options = BlackBoxOptions(rise_masks=rise_masks)
                local = local_cost(loaded, pixels, method, options)
                print(
                    f"  ({model_id} {method} local: {local[0]:.2f} s, {local[1]} calls)", flush=True
                )
                remote = remote_cost(card, pixels, method, options)
                print(
                    f"{model_id:20s} {method:10s} {local[0]:8.2f} {local[1]:6d} "
                    f"{remote[0]:9.2f} {remote[1]:6d}"
                )


def pointing(models_dir: Path, n: int, rise_masks: int) -> None:
    loaded = load_image_model(models_dir, "shapes")
    images, labels, boxes = make_shapes(n, HELD_OUT_SEED)
    pixels = images.astype(np.float32)
    targets = [[int(label)] for label in labels]
    scaled = loaded.scaling(pixels)
    gradcam = GradCam(loaded.model, loaded.layer).explain(scaled, targets).heatmaps
    rise = GradCam(loaded.model, loaded.layer, method="rise")
    maps = [
        rise.explain(
            scaled[i : i + 1],
            [targets[i]],
            pixels=pixels[i : i + 1],
            scaling=loaded.scaling,
            blackbox=BlackBoxOptions(rise_masks=rise_masks),
        ).heatmaps
        for i in range(n)
    ]
    print(
        f"pointing on {n} held-out shapes images: grad-cam {hits(gradcam, boxes).mean():.3f}, "
        f"rise ({rise_masks} masks) {hits(np.concatenate(maps), boxes).mean():.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--photos-dir", type=Path, default=REPO / "docs" / "examples")
    parser.add_argument("--rise-masks", type=int, default=2000)
    parser.add_argument("--pointing-images", type=int, default=50)
    args = parser.parse_args()
    costs(args.models_dir, args.photos_dir, args.rise_masks)
    pointing(args.models_dir, args.pointing_images, args.rise_masks)


if __name__ == "__main__":
    main()
