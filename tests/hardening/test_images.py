"""Images through the real app: limits from the header, bombs, formats, modes, EXIF.

With `alpha_limit` 0 the overlay is the decoded, upright picture itself, so these tests
see exactly the pixels the service made of each upload.
"""

import base64
import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from tests.hardening.conftest import TINY, assert_problem, encode
from tests.preprocess.test_image import _STORED, _blocks, _png_claiming, _with_orientation


def explain(client, data: bytes):
    body = {"instances": [{"image": {"b64": base64.b64encode(data).decode()}}]}
    return client.post(TINY, json=body | {"parameters": {"alpha_limit": 0}})


def seen(client, data: bytes) -> np.ndarray:
    """The RGB pixels the service decoded from `data`."""
    response = explain(client, data)
    assert response.status_code == 200, response.text
    url = response.json()["explanations"][0]["targets"][0]["overlay"]
    overlay = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    return np.asarray(overlay.convert("RGB")).astype(int)


# --- limits, from the header --------------------------------------------------


def test_a_tiny_png_claiming_9000x9000_is_refused_without_decoding(client, monkeypatch):
    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    data = _png_claiming(9000, 9000)
    assert len(data) < 100
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    problem = assert_problem(explain(client, data), 400)
    assert "9000x9000" in problem["detail"] and "25,000,000 pixels" in problem["detail"]


@pytest.mark.parametrize(
    ("size", "refused"),
    [((5001, 5000), True), ((5000, 5000), False), ((8193, 1), True), ((8192, 1), False)],
)
def test_pixel_and_side_limits_are_exact(client, size, refused):
    problem = assert_problem(explain(client, _png_claiming(*size)), 400)
    # Within the limits the header passes, then decoding finds the pixels missing.
    assert ("the limits are" in problem["detail"]) is refused
    assert ("corrupt or truncated" in problem["detail"]) is not refused


@pytest.mark.parametrize("factor", [1.5, 3], ids=["bomb-warning", "bomb-error"])
def test_pillow_decompression_bombs_are_errors(client, monkeypatch, tiny_png, factor):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", int(32 * 32 / factor))
    problem = assert_problem(explain(client, tiny_png), 400)
    assert "decompression bomb" in problem["detail"]


# --- formats ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_accepted_formats_as_raw_bodies(client, fmt):
    data = encode(Image.new("RGB", (40, 24), (200, 30, 30)), fmt)
    response = client.post(TINY, content=data, headers={"content-type": "image/png"})
    assert response.status_code == 200, response.text
    assert response.json()["explanations"][0]["image"] == {"width": 40, "height": 24}


def test_an_animated_gif_gives_its_first_frame(client):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50)
    pixels = seen(client, buffer.getvalue())
    assert (pixels == [255, 0, 0]).all()


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO", "PPM", "PCX", "TGA"])
def test_other_image_formats_are_415(client, fmt):
    data = encode(Image.new("RGB", (16, 16)), fmt)
    problem = assert_problem(explain(client, data), 415)
    assert "JPEG, PNG, WebP or GIF" in problem["detail"]


def test_a_float_image_comes_only_in_formats_that_are_refused(client):
    data = encode(Image.new("F", (4, 4), 0.5), "TIFF")  # no accepted format holds mode F
    assert_problem(explain(client, data), 415)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_truncated_files_are_400(client, fmt):
    data = encode(Image.effect_noise((64, 64), 40).convert("RGB"), fmt)
    problem = assert_problem(explain(client, data[: len(data) // 2]), 400)
    assert problem["title"] == "Invalid image"


@pytest.mark.parametrize(
    "data",
    [b"", b"\0" * 100, bytes(range(256)) * 4, b"<svg xmlns='http://www.w3.org/2000/svg'/>"],
    ids=["empty", "zeros", "random", "svg"],
)
def test_non_images_are_400(client, data):
    assert_problem(explain(client, data), 400)
    raw = client.post(TINY, content=data, headers={"content-type": "image/jpeg"})
    assert_problem(raw, 400)


# --- modes ------------------------------------------------------------------


def image_of(mode: str, values: list, size=(2, 1), **info) -> Image.Image:
    image = Image.new(mode, size)
    image.putdata(values)
    image.info.update(info)
    return image


def palette_with_transparency() -> Image.Image:
    image = image_of("P", [0, 1])
    image.putpalette([255, 0, 0, 0, 255, 0])
    image.info["transparency"] = 1  # the green entry is see-through
    return image


MODES = {
    "1": (image_of("1", [0, 255]), [[0, 0, 0], [255, 255, 255]]),
    "L": (image_of("L", [0, 100]), [[0, 0, 0], [100, 100, 100]]),
    "LA": (image_of("LA", [(100, 255), (100, 0)]), [[100, 100, 100], [255, 255, 255]]),
    "P with transparency": (palette_with_transparency(), [[255, 0, 0], [255, 255, 255]]),
    "RGB": (image_of("RGB", [(10, 20, 30), (40, 50, 60)]), [[10, 20, 30], [40, 50, 60]]),
    "RGBA": (image_of("RGBA", [(10, 20, 30, 255), (1, 2, 3, 0)]), [[10, 20, 30], [255] * 3]),
    "I;16": (image_of("I;16", [25700, 65535]), [[100, 100, 100], [255, 255, 255]]),
}


@pytest.mark.parametrize("case", MODES.values(), ids=MODES.keys())
def test_every_mode_becomes_the_right_rgb(client, case):
    image, expected = case
    assert seen(client, encode(image, "PNG")).reshape(-1, 3).tolist() == expected


def test_cmyk_jpeg_becomes_rgb(client):
    cyan = encode(Image.new("CMYK", (16, 16), (255, 0, 0, 0)), "JPEG", quality=95)
    pixels = seen(client, cyan)
    assert np.abs(pixels - [0, 255, 255]).max() <= 8


# --- EXIF orientation -------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientations_are_honoured(client, orientation):
    shown = _blocks()  # 32x48, six distinct blocks: any wrong turn or flip shows
    data = _with_orientation(_STORED[orientation](shown), orientation, "PNG")
    np.testing.assert_array_equal(seen(client, data), shown)
