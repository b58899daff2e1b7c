"""Writes tests/data/road_reference.npz: pytorch-grad-cam 1.5.7's ROAD on a tiny CNN.

Run in the torch venv (see bench/pytorch_gradcam_agreement.py for how it is made), from
the repository root, to regenerate the fixture:

    /work/torchvenv/bin/python bench/road_reference.py

The network (conv 3x3 'same' with 4 channels, ReLU, global mean, dense to 3 logits), its
weights, inputs and maps come from a seeded numpy generator; tests/engine/evaluation/
test_road.py builds the same network in Keras from the saved weights and checks
`app.engine.evaluation.road` against the saved scores. pytorch-grad-cam draws its
imputation noise from torch's generator, which numpy cannot replay, so the fixture is made
with the noise set to 0 (the default 0.01 is the same code path plus that noise).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "road_reference.npz"
SIZE, CHANNELS, CLASSES, IMAGES = 12, 4, 3, 3


def main() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from pytorch_gradcam_agreement import stub_torchvision

    stub_torchvision()
    import torch
    from pytorch_grad_cam.metrics import road as pgc_road
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    rng = np.random.default_rng(27)
    kernel = rng.normal(0, 0.5, (3, 3, 3, CHANNELS)).astype(np.float32)  # Keras layout
    bias = rng.normal(0, 0.1, CHANNELS).astype(np.float32)
    dense = rng.normal(0, 1.0, (CHANNELS, CLASSES)).astype(np.float32)
    dense_bias = rng.normal(0, 0.1, CLASSES).astype(np.float32)
    inputs = rng.normal(0, 1, (IMAGES, SIZE, SIZE, 3)).astype(np.float32)
    coarse = rng.random((IMAGES, 3, 3)).astype(np.float32)
    cams = np.kron(coarse, np.ones((4, 4), np.float32)) + rng.random((IMAGES, SIZE, SIZE)).astype(
        np.float32
    ) * np.float32(0.05)
    targets = np.array([0, 2, 1])

    conv = torch.nn.Conv2d(3, CHANNELS, 3, padding=1)
    conv.weight.data = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
    conv.bias.data = torch.from_numpy(bias)
    linear = torch.nn.Linear(CHANNELS, CLASSES)
    linear.weight.data = torch.from_numpy(dense.T.copy())
    linear.bias.data = torch.from_numpy(dense_bias)
    model = torch.nn.Sequential(
        conv, torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), linear
    ).eval()

    defaults = pgc_road.NoisyLinearImputer.__init__.__defaults__
    pgc_road.NoisyLinearImputer.__init__.__defaults__ = (0.0, *defaults[1:])
    tensor = torch.from_numpy(inputs.transpose(0, 3, 1, 2).copy())
    wanted = [ClassifierOutputTarget(int(t)) for t in targets]
    combined = pgc_road.ROADCombined()(tensor, cams, wanted, model)
    morf = pgc_road.ROADMostRelevantFirstAverage()(tensor, cams, wanted, model)
    lerf = pgc_road.ROADLeastRelevantFirstAverage()(tensor, cams, wanted, model)
    # One imputed image, to check the imputation on its own: MoRF at the 50th percentile.
    keep = torch.from_numpy(np.float32(cams[0] < np.percentile(cams[0], 50)))
    imputed = pgc_road.NoisyLinearImputer(noise=0.0)(tensor[0], keep).numpy()
    np.savez(
        OUT,
        kernel=kernel,
        bias=bias,
        dense=dense,
        dense_bias=dense_bias,
        inputs=inputs,
        cams=cams,
        targets=targets,
        road=np.float32(combined),
        morf=np.float32(morf),
        lerf=np.float32(lerf),
        imputed_morf50=imputed.transpose(1, 2, 0),
    )
    print(f"wrote {OUT}: road {combined}")


if __name__ == "__main__":
    main()
