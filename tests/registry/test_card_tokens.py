"""The card's `[image] token_grid` / `prefix_tokens` reach the served model's layers."""

import shutil
from pathlib import Path

import pytest

from app.engine.layers.tokens import TokenGrid
from app.errors import ModelError
from app.registry.card import read_card
from app.registry.registry import load_registry

BUNDLED = Path(__file__).resolve().parents[2] / "models" / "shapes_vit"


def copy_with_image_lines(tmp_path: Path, lines: str) -> Path:
    folder = tmp_path / "shapes_vit"
    shutil.copytree(BUNDLED, folder)
    card = folder / "model.toml"
    card.write_text(card.read_text() + lines)
    return folder


def test_card_token_fields_set_the_grids(tmp_path):
    # Declared as 65 = 1 + 8x8 (what inference finds too) and honoured for every layer.
    copy_with_image_lines(tmp_path, "token_grid = [8, 8]\nprefix_tokens = 1\n")
    served = load_registry(tmp_path).models["shapes_vit"]
    grids = {ref.name: ref.grid for ref in served.candidate_layers}
    assert grids["b2_norm1"] == TokenGrid(1, 8, 8)
    assert grids["patch_tokens"] == TokenGrid(0, 8, 8)  # the prefix does not fit: inferred
    assert served.gradcam("b2_norm1").layer.grid == TokenGrid(1, 8, 8)


@pytest.mark.parametrize("lines", ["prefix_tokens = -1\n", "token_grid = [8]\n"])
def test_bad_token_fields_are_refused(tmp_path, lines):
    folder = copy_with_image_lines(tmp_path, lines)
    with pytest.raises(ModelError, match=r"token_grid|prefix_tokens"):
        read_card(folder)
