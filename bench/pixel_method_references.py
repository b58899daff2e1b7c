"""Reference maps of the pixel-level methods from pytorch-grad-cam 1.5.7 and Captum 0.9,
written to `tests/data/pixel_methods_reference.npz` for the tests (CI has no torch).

Run in the torch venv of `bench/pytorch_gradcam_agreement.py` (its docstring makes it)
plus Captum, from the repository root:

    /work/torchvenv/bin/pip install --no-deps captum==0.9.0
    /work/torchvenv/bin/python bench/pixel_method_references.py

It needs only numpy, torch, grad-cam and captum: the networks are `bench/oracle_cnn.py`
(a ReLU CNN) and `bench/oracle_text.py` (an embedding classifier), built in PyTorch from
the same numpy weights the tests build their Keras twins from; the weights are stored in
the file too. Every score is the target's logit, targets are each input's top class.
Stored (images NHWC, maps as the libraries return them, channels last):

    images (4, 32, 32, 3), targets (4,); cnn/<name> the CNN's weights
    captum_saliency            Captum Saliency(abs=True)                   (4, 32, 32, 3)
    captum_integrated_gradients  IntegratedGradients, black (zero) baseline,
                               n_steps=32, riemann_trapezoid             (4, 32, 32, 3)
    captum_ig_delta            its convergence delta per image           (4,)
    captum_guided_backprop     GuidedBackprop                            (4, 32, 32, 3)
    captum_guided_gradcam      GuidedGradCam(model, last_conv)           (4, 32, 32, 3)
    gradcam_guided_backprop    pytorch-grad-cam GuidedBackpropReLUModel  (4, 32, 32, 3)
    gradcam_gradcam            pytorch-grad-cam GradCAM(last_conv), resized (4, 32, 32)
    gradcam_fullgrad           pytorch-grad-cam FullGrad                 (4, 32, 32)
    text_ids (3, 12), text_targets (3,); text/<name> the text model's weights
    captum_layer_ig            LayerIntegratedGradients(embedding), baseline ids 0,
                               n_steps=32, riemann_trapezoid             (3, 12, 6)
    captum_layer_ig_delta      its convergence delta                     (3,)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.oracle_cnn import LAST_CONV, oracle_images, oracle_weights, to_nchw, torch_model  # noqa: E402
from bench.oracle_text import text_ids, text_weights, torch_text_model  # noqa: E402
from bench.pytorch_gradcam_agreement import stub_torchvision  # noqa: E402

OUT = REPO / "tests" / "data" / "pixel_methods_reference.npz"
STEPS = 32


def nhwc(values: object) -> np.ndarray:
    array = values.detach().numpy() if hasattr(values, "detach") else np.asarray(values)
    return np.ascontiguousarray(array.transpose(0, 2, 3, 1)).astype(np.float32)


def image_references() -> dict[str, np.ndarray]:
    import torch
    from captum.attr import GuidedBackprop, GuidedGradCam, IntegratedGradients, Saliency
    from pytorch_grad_cam import FullGrad, GradCAM, GuidedBackpropReLUModel
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    weights = oracle_weights()
    images = oracle_images()
    model = torch_model(weights, softmax=False)
    x = torch.from_numpy(to_nchw(images))
    targets = model(x).argmax(dim=1)
    out = {"images": images, "targets": targets.numpy().astype(np.int32)}
    out.update({f"cnn/{name}": value for name, value in weights.items()})
    out["captum_saliency"] = nhwc(Saliency(model).attribute(x, target=targets, abs=True))
    ig, delta = IntegratedGradients(model).attribute(
        x,
        torch.zeros_like(x),
        target=targets,
        n_steps=STEPS,
        method="riemann_trapezoid",
        return_convergence_delta=True,
    )
    out["captum_integrated_gradients"], out["captum_ig_delta"] = nhwc(ig), delta.detach().numpy()
    out["captum_guided_backprop"] = nhwc(GuidedBackprop(model).attribute(x, target=targets))
    guided_gradcam = GuidedGradCam(model, model.last_conv).attribute(x, target=targets)
    out["captum_guided_gradcam"] = nhwc(guided_gradcam)
    guided = GuidedBackpropReLUModel(model, device="cpu")
    out["gradcam_guided_backprop"] = np.stack(
        [guided(x[i : i + 1], int(targets[i])) for i in range(len(x))]
    ).astype(np.float32)
    classes = [ClassifierOutputTarget(int(t)) for t in targets]
    with GradCAM(model, target_layers=[getattr(model, LAST_CONV)]) as cam:
        out["gradcam_gradcam"] = cam(x, targets=classes).astype(np.float32)
    with FullGrad(model, target_layers=[]) as cam:
        out["gradcam_fullgrad"] = cam(x, targets=classes).astype(np.float32)
    return out


def text_references() -> dict[str, np.ndarray]:
    import torch
    from captum.attr import LayerIntegratedGradients

    weights = text_weights()
    ids = text_ids()
    model = torch_text_model(weights)
    x = torch.from_numpy(ids.astype(np.int64))
    targets = model(x).argmax(dim=1)
    attribution, delta = LayerIntegratedGradients(model, model.embedding).attribute(
        x,
        torch.zeros_like(x),
        target=targets,
        n_steps=STEPS,
        method="riemann_trapezoid",
        return_convergence_delta=True,
    )
    out = {
        "text_ids": ids,
        "text_targets": targets.numpy().astype(np.int32),
        "captum_layer_ig": attribution.detach().numpy().astype(np.float32),
        "captum_layer_ig_delta": delta.detach().numpy(),
    }
    out.update({f"text/{name}": value for name, value in weights.items()})
    return out


def main() -> None:
    stub_torchvision()
    import torch

    torch.manual_seed(0)
    np.savez_compressed(OUT, **image_references(), **text_references())
    print(f"wrote {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
