"""pytorch-grad-cam 1.5.7's maps on the oracle CNN (`bench/oracle_cnn.py`): the fixtures
of tests/engine/methods/test_pytorch_gradcam_methods.py.

Regenerate (in the torch venv described in bench/pytorch_gradcam_agreement.py; no
TensorFlow needed; torchvision is stubbed as there):

    /work/torchvenv/bin/python bench/gradcam_method_references.py \\
        --out tests/data/gradcam_methods_reference.npz

What it writes (float32 unless said): `weights/<name>` the oracle's weight set (the
tests build the Keras twin from these), `images` (4, 32, 32, 3) NHWC, `targets` (4,)
int the top class of each image (logits), and per case `<case>/raw` the map
pytorch-grad-cam's `get_cam_image` returns for the last layer (4, h, w) (before relu and
resizing) where the case has one layer and no augmentation, and `<case>/map` (where it
has none, and for `WITH_MAP`) the map its `__call__` returns (4, 32, 32): relu, min-max, resized to the input, averaged over
layers and views. Every case explains `targets` with `ClassifierOutputTarget` on the
logits unless its name says `output` (the softmax output) or `top` (FinerCAM's own
choice, `targets=None`).

Conventions set as the service's, in every case (docs/methods.md says why): the
principal component of `eigen_smooth` oriented along the mean term (not the SVD's
sign), Grad-CAM++ without the 1e-6 in its alpha denominator, Score-CAM's masks resized
half-pixel bilinear. Score-CAM and Ablation-CAM use all 16 channels of `last_conv`.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.oracle_cnn import oracle_images, oracle_weights, to_nchw, torch_model
from bench.pytorch_gradcam_agreement import (
    oriented_projection,
    service_conventions,
    stub_torchvision,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "gradcam_methods_reference.npz"
LAYERS = ("last_conv",)
BOTH = ("relu2", "last_conv")
SMOOTHABLE = (
    "gradcam",
    "gradcam++",
    "xgradcam",
    "hirescam",
    "gradcam-elementwise",
    "layercam",
    "shapleycam",
    "finercam",
    "scorecam",
    "ablationcam",
)


def spelled(value) -> str:
    return "-".join(map(str, value)) if isinstance(value, tuple) else str(value)


def case(method, layers=LAYERS, score="logit", eigen=False, aug=False, targets="fixed", **kw):
    """One configuration: its name (the fixture's key) and its settings."""
    name = method
    if kw:
        name += "".join(f"_{key}={spelled(value)}" for key, value in sorted(kw.items()))
    name += "_output" if score == "output" else ""
    name += "_top" if targets == "top" else ""
    name += "_eigen" if eigen else ""
    name += "_aug" if aug else ""
    name += "_" + "+".join(layers) if layers != LAYERS else ""
    settings = dict(method=method, layers=layers, score=score, eigen=eigen, aug=aug)
    return name, {**settings, "targets": targets, "parameters": kw}


CASES = dict(
    [
        case("gradcam"),
        case("kpcacam"),
        case("kpcacam", kernel="rbf", gamma=0.05),
        case("kpcacam", kernel="linear"),
        case("kpcacam", kernel="poly"),
        case("kpcacam", kernel="cosine"),
        case("fem"),
        case("fem", k=1.0),
        case("shapleycam"),
        case("shapleycam", score="output"),
        case("finercam", targets="top"),
        case("finercam", alpha=0.5, comparison_categories=(1, 2)),
        *(case(method, eigen=True) for method in SMOOTHABLE),
        case("shapleycam", score="output", eigen=True),
        *(case(method, aug=True) for method in ("gradcam", "gradcam++", "kpcacam", "fem")),
        case("shapleycam", score="output", aug=True),
        case("scorecam", aug=True),
        case("gradcam", eigen=True, aug=True),
        *(case(method, layers=BOTH) for method in ("gradcam", "layercam", "fem", "finercam")),
        case("gradcam", layers=BOTH, aug=True),
        case("gradcam", layers=BOTH, eigen=True),
    ]
)


# One-layer cases without augmentation whose map at the input's resolution is kept too
# (the others keep their raw map only: the fixture stays small).
WITH_MAP = ("gradcam", "kpcacam", "fem", "shapleycam_output", "finercam_top", "gradcam_eigen")


@contextmanager
def oriented_eigen_smooth():
    """`get_2d_projection` oriented along the mean term, where each method imported it."""
    from pytorch_grad_cam import base_cam, grad_cam_elementwise, hirescam, layer_cam

    modules = (base_cam, grad_cam_elementwise, hirescam, layer_cam)
    saved = [module.get_2d_projection for module in modules]
    for module in modules:
        module.get_2d_projection = oriented_projection
    try:
        yield
    finally:
        for module, projection in zip(modules, saved, strict=True):
            module.get_2d_projection = projection


def cam_object(settings, model):
    import pytorch_grad_cam as pgc

    classes = {
        "gradcam": pgc.GradCAM,
        "gradcam++": pgc.GradCAMPlusPlus,
        "xgradcam": pgc.XGradCAM,
        "hirescam": pgc.HiResCAM,
        "gradcam-elementwise": pgc.GradCAMElementWise,
        "layercam": pgc.LayerCAM,
        "scorecam": pgc.ScoreCAM,
        "ablationcam": pgc.AblationCAM,
        "shapleycam": pgc.ShapleyCAM,
        "fem": pgc.FEM,
        "kpcacam": pgc.KPCA_CAM,
        "finercam": pgc.FinerCAM,
    }
    layers = [getattr(model, name) for name in settings["layers"]]
    method, parameters = settings["method"], dict(settings["parameters"])
    if method == "finercam":
        parameters.pop("alpha", None)
        parameters.pop("comparison_categories", None)
    return classes[method](model, layers, **parameters)


def run_case(name, settings, images, targets) -> dict[str, np.ndarray]:
    import torch
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = torch_model(softmax=settings["score"] == "output")
    cam = cam_object(settings, model)
    base = cam.base_cam if settings["method"] == "finercam" else cam
    raws = []
    get_cam_image = base.get_cam_image

    def keep_raw(*args, **kwargs):
        raw = get_cam_image(*args, **kwargs)
        raws.append(np.asarray(raw, dtype=np.float32))
        return raw

    base.get_cam_image = keep_raw
    x = torch.from_numpy(to_nchw(images))
    chosen = None
    if settings["targets"] == "fixed":
        chosen = [ClassifierOutputTarget(int(target)) for target in targets]
    if settings["method"] == "finercam":
        options = {key: value for key, value in settings["parameters"].items() if key != "k"}
        if "comparison_categories" in options:
            options["comparison_categories"] = list(options["comparison_categories"])
        target_idx = None if settings["targets"] == "top" else "each"
        if target_idx is None:
            maps = cam(x, eigen_smooth=settings["eigen"], **options)
        else:  # FinerCAM takes one target_idx per call: one image at a time
            rows = [
                cam(x[i : i + 1], eigen_smooth=settings["eigen"], target_idx=int(t), **options)
                for i, t in enumerate(targets)
            ]
            maps = np.concatenate(rows)
            if len(settings["layers"]) == 1:
                raws[:] = [np.concatenate(raws)]
    else:
        maps = cam(x, chosen, aug_smooth=settings["aug"], eigen_smooth=settings["eigen"])
    result = {}
    if len(settings["layers"]) == 1 and not settings["aug"]:
        result["raw"] = raws[-1]
    if "raw" not in result or name in WITH_MAP:
        result["map"] = np.asarray(maps, dtype=np.float32)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    stub_torchvision()
    import torch
    import tqdm

    tqdm.tqdm = lambda iterable, *args, **kwargs: iterable  # no progress bars
    torch.manual_seed(0)
    images = oracle_images()
    with torch.no_grad():
        logits = torch_model(softmax=False)(torch.from_numpy(to_nchw(images))).numpy()
    targets = logits.argmax(axis=1)
    arrays: dict[str, np.ndarray] = {
        "images": images,
        "targets": targets.astype(np.int64),
        **{f"weights/{key}": value for key, value in oracle_weights().items()},
    }
    for name, settings in CASES.items():
        with ExitStack() as stack:
            stack.enter_context(service_conventions())
            stack.enter_context(oriented_eigen_smooth())
            for key, value in run_case(name, settings, images, targets).items():
                arrays[f"{name}/{key}"] = value
        print(f"{name}: {sorted(key for key in arrays if key.startswith(name + '/'))}")
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
