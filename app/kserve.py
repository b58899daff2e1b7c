"""KServe's custom-explainer arguments: one model, explained beside its predictor.

KServe starts an explainer container with `--model_name NAME --predictor_host HOST[:PORT]
--http_port PORT` and routes `POST /v1/models/NAME:explain` to it. From these this module
writes a models folder holding one card, `NAME`, and points the settings at it:

- without `--storage_uri`: a remote model calling `http://HOST[:PORT]/v1/models/NAME`
  (`:predict`, `/metadata`): only the black-box methods; images are sent as
  `--remote_input` (b64 PNG, or the scaled array) at `--image_size` (else the size the
  predictor's `/metadata` gives), `--scaling`;
- with `--storage_uri PATH` (a local folder: KServe's storage initializer has copied the
  model there, e.g. /mnt/models): the model files are loaded, every method works. PATH
  holding a `model.toml` is used as it is (its id set to NAME); otherwise PATH is the
  model file or SavedModel folder and the card is written from the same flags.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import tomllib
from pathlib import Path

from app.registry.card import CARD_FILE, KERAS_SUFFIXES, SAVED_MODEL_FILE

DEFAULT_SIZE = "224,224"  # a model file's input size when --image_size gives none


def parser() -> argparse.ArgumentParser:
    args = argparse.ArgumentParser(prog="python -m app", description=__doc__.split("\n\n")[0])
    args.add_argument("--model_name", required=True, help="the InferenceService's model")
    args.add_argument("--predictor_host", default=None, help="HOST[:PORT] of its predictor")
    args.add_argument("--http_port", type=int, default=8080, help="port to serve on")
    args.add_argument("--storage_uri", default=None, help="local folder of the model files")
    args.add_argument("--remote_input", choices=("b64", "array"), default="b64")
    args.add_argument(
        "--image_size",
        default=None,
        help="WIDTH,HEIGHT the model takes (default: a predictor's from its /metadata; "
        f"a model file's {DEFAULT_SIZE})",
    )
    args.add_argument("--scaling", default="unit", help="as the card's [image] scaling")
    args.add_argument("--labels_file", default=None, help="one label a line")
    return args


def kserve_environment(argv: list[str], workdir: Path | None = None) -> dict[str, str]:
    """The GRADCAM_* settings for KServe's arguments (the models folder written)."""
    options = parser().parse_args(argv)
    if options.storage_uri is None and options.predictor_host is None:
        parser().error("give --predictor_host (a remote predictor) or --storage_uri")
    models = (workdir or Path(tempfile.mkdtemp(prefix="gradcam-kserve-"))) / "models"
    folder = models / options.model_name
    folder.mkdir(parents=True)
    write_card(folder, options)
    return {
        "GRADCAM_MODELS_DIR": str(models),
        "GRADCAM_PORT": str(options.http_port),
        "GRADCAM_HOST": os.environ.get("GRADCAM_HOST", "0.0.0.0"),  # a pod: every interface
    }


def write_card(folder: Path, options: argparse.Namespace) -> None:
    name = options.model_name
    lines = [f'id = "{name}"', 'task = "image"']
    storage = None if options.storage_uri is None else Path(options.storage_uri).resolve()
    if storage is not None and (storage / CARD_FILE).is_file():
        card = tomllib.loads((storage / CARD_FILE).read_text(encoding="utf-8"))
        shutil.copytree(storage, folder, dirs_exist_ok=True)
        text = (folder / CARD_FILE).read_text(encoding="utf-8")
        (folder / CARD_FILE).write_text(text.replace(f'id = "{card["id"]}"', f'id = "{name}"'))
        return
    if storage is not None:
        lines.append(f'model_file = "{copy_model(storage, folder)}"')
    else:
        url = f"http://{options.predictor_host}/v1/models/{name}"
        lines += [f'remote = "{url}"', f'remote_input = "{options.remote_input}"']
    if options.labels_file:
        shutil.copy(options.labels_file, folder / "labels.txt")
        lines.append('labels_file = "labels.txt"')
    lines += ["", "[image]"]
    size = options.image_size or (None if storage is None else DEFAULT_SIZE)
    if size is not None:  # else the remote's /metadata gives it, when the model loads
        width, height = (int(side) for side in size.split(","))
        lines.append(f"size = [{width}, {height}]")
    lines.append(f'scaling = "{options.scaling}"')
    (folder / CARD_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


def copy_model(storage: Path, folder: Path) -> str:
    """The model at `storage` copied into the card's folder (a card's files stay inside
    the models folder); its name there."""
    if storage.is_file():
        shutil.copy(storage, folder / storage.name)
        return storage.name
    if (storage / SAVED_MODEL_FILE).is_file():
        shutil.copytree(storage, folder / "saved_model")
        return "saved_model"
    files = sorted(path for path in storage.iterdir() if path.suffix in KERAS_SUFFIXES)
    if len(files) != 1:
        raise SystemExit(f"--storage_uri {storage}: no model.toml, SavedModel or one Keras file")
    shutil.copy(files[0], folder / files[0].name)
    return files[0].name
