"""The explain options `gradcam explain` sets from its command line (no server)."""

import json
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.cli.backends import METHOD_OPTIONS, options_of
from app.cli.parser import build_parser
from tests.live_server import shape_sample


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


def test_pixel_and_black_box_options_are_sent_only_when_set():
    options = parsed("--samples", "8", "--noise", "0.1", "--seed", "3", "--steps", "16")
    more = parsed("--baseline", "blur", "--occlusion-window", "8", "--rise-masks", "50")
    options |= {name: value for name, value in more.items() if value is not None}
    assert (options["samples"], options["noise"], options["seed"]) == (8, 0.1, 3)
    assert (options["steps"], options["baseline"]) == (16, "blur")
    assert (options["occlusion_window"], options["rise_masks"]) == (8, 50)
    unset = parsed()
    assert all(unset[name] is None for name in METHOD_OPTIONS)


def test_a_bad_method_option_is_a_usage_error():
    for argv in (["--samples", "0"], ["--baseline", "grey"], ["--rise-cells", "x"]):
        with pytest.raises(SystemExit) as exited:
            parsed(*argv)
        assert exited.value.code == 2


@pytest.mark.slow  # loads TensorFlow and a model in this process
def test_local_smoothgrad_takes_its_samples_and_seed(models_dir: Path, tmp_path: Path):
    """The map written equals the engine's for the same options, and a different
    sample count draws a different map: the flags reach the method."""
    from app.cli.backends import load_one_model
    from app.explain.images import explain_images
    from app.explain.options import ExplainOptions
    from app.preprocess.image import ImageLimits
    from app.settings import Settings

    image = tmp_path / "shape.png"
    image.write_bytes(shape_sample(seed=4)[0])

    def run(samples: str) -> np.ndarray:
        out = tmp_path / f"out-{samples}"
        argv = ["explain", str(image), "--model", "shapes", "--local"]
        argv += ["--models-dir", str(models_dir), "--method", "smoothgrad", "--target", "1"]
        argv += ["--samples", samples, "--seed", "7", "--noise", "0.1", "--out", str(out)]
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
        (line,) = (out / "explanations.jsonl").read_text().splitlines()
        (target,) = json.loads(line)["targets"]
        return np.asarray(target["heatmap"]) * target["scale"]

    settings = Settings(models_dir=models_dir)
    served = load_one_model(settings, "shapes")
    options = ExplainOptions(method="smoothgrad", targets=[1], samples=4, seed=7, noise=0.1)
    limits = ImageLimits(settings.max_image_pixels, settings.max_image_side)
    (expected,) = explain_images(served, [image.read_bytes()], options, limits).explanations
    want = np.asarray(expected.targets[0].heatmap) * expected.targets[0].scale
    four = run("4")
    np.testing.assert_allclose(four, want, rtol=1e-4, atol=1e-5 * float(np.abs(want).max()))
    assert four.shape == (64, 64)
    assert not np.allclose(run("12"), four, rtol=1e-3)
