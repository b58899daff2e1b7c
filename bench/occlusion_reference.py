"""Captum's `Occlusion` maps on a tiny CNN, the oracle of the service's `occlusion` method.

Writes `tests/data/occlusion_reference.npz`: the CNN's weights (Keras layout), two images
and their targets, and Captum 0.9.0's attributions for two (window, stride) settings,
for the logit and for the softmax output. `tests/engine/methods/test_blackbox.py` builds
the same CNN in Keras from these weights and compares the service's maps with them.

The CNN: Conv2D(4, 3x3, valid, relu) -> global average pooling -> Dense(3, softmax), on
16x16x3 inputs. Captum gets windows over every channel, `(3, w, w)`, strides
`(3, s, s)`, baseline 0: with `(16 - w)` a multiple of `s` its windows are those the
service places ("while the window fits"); otherwise Captum adds a truncated last window.

Regenerate (PyTorch is no dependency of this project; run in a torch venv, e.g. the one
described in `bench/pytorch_gradcam_agreement.py`, plus `pip install captum==0.9.0`):

    /work/torchvenv/bin/python bench/occlusion_reference.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from captum.attr import Occlusion

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "occlusion_reference.npz"
SETTINGS = ((4, 2), (8, 4))  # (window, stride)
TARGETS = (0, 2)


class TinyCnn(torch.nn.Module):
    def __init__(
        self, kernel: np.ndarray, bias: np.ndarray, dense: np.ndarray, dense_bias: np.ndarray
    ):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.dense = torch.nn.Linear(4, 3)
        with torch.no_grad():  # Keras (kh, kw, in, out) -> torch (out, in, kh, kw)
            self.conv.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1)))
            self.conv.bias.copy_(torch.from_numpy(bias))
            self.dense.weight.copy_(torch.from_numpy(dense.T))
            self.dense.bias.copy_(torch.from_numpy(dense_bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # logits
        return self.dense(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def main() -> None:
    rng = np.random.default_rng(28)
    weights = {
        "kernel": rng.normal(0, 0.5, (3, 3, 3, 4)).astype(np.float32),
        "bias": rng.normal(0, 0.1, 4).astype(np.float32),
        "dense": rng.normal(0, 1.0, (4, 3)).astype(np.float32),
        "dense_bias": rng.normal(0, 0.1, 3).astype(np.float32),
    }
    images = rng.random((2, 16, 16, 3)).astype(np.float32)
    model = TinyCnn(**weights).eval()
    chw = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
    results: dict[str, np.ndarray] = {}
    for score, forward in (
        ("logit", model),
        ("output", lambda x: torch.softmax(model(x), dim=1)),
    ):
        results[f"predictions_{score}"] = forward(chw).detach().numpy()
        for window, stride in SETTINGS:
            attributions = Occlusion(forward).attribute(
                chw,
                sliding_window_shapes=(3, window, window),
                strides=(3, stride, stride),
                baselines=0.0,
                target=list(TARGETS),
            )
            maps = attributions.detach().numpy()
            # A window covers every channel: the channels of a pixel agree.
            assert np.allclose(maps, maps[:, :1]), "channels of a pixel differ"
            results[f"{score}_{window}_{stride}"] = maps[:, 0]
    np.savez_compressed(
        OUT,
        images=images,
        targets=np.array(TARGETS),
        settings=np.array(SETTINGS),
        **weights,
        **results,
    )
    print(f"wrote {OUT} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
