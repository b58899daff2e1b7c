"""The explain options `gradcam explain` sets from its command line (no server)."""

from app.cli.backends import options_of
from app.cli.parser import build_parser


def parsed(*argv: str) -> dict[str, object]:
    return options_of(build_parser().parse_args(["explain", "a.png", "--model", "m", *argv]))


def test_one_layer_by_name_or_index():
    assert parsed("--layer", "last_conv")["layer"] == "last_conv"
    assert parsed("--layer", "3")["layer"] == 3
    assert parsed()["layer"] is None


def test_several_layers_and_pytorch_gradcam_options():
    options = parsed("--layer", "conv3,2", "--eigen-smooth", "--aug-smooth")
    assert options["layer"] == ["conv3", 2]
    assert options["eigen_smooth"] is True and options["aug_smooth"] is True
    assert parsed()["eigen_smooth"] is None and parsed()["aug_smooth"] is None  # not sent
