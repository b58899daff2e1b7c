"""Copy scikit-image's sample photos into `docs/examples/` as small JPEGs, and compose
the two-object photo (chelsea the cat beside the coffee cup).

Input: the scikit-image wheel (`pip download --no-deps -d /tmp/wheels scikit-image`).

    python -m training.example_photos --wheels /tmp/wheels
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = {  # skimage/data file -> docs/examples name
    "chelsea.png": "chelsea.jpg",
    "coffee.png": "coffee.jpg",
    "motorcycle_left.png": "motorcycle.jpg",
}
MAX_SIDE = 512
QUALITY = 90
HALF = 300  # each half of the two-object photo is HALF x HALF


def read_photo(wheel: zipfile.ZipFile, name: str) -> Image.Image:
    with Image.open(io.BytesIO(wheel.read(f"skimage/data/{name}"))) as image:
        return image.convert("RGB")


def shrink(image: Image.Image) -> Image.Image:
    scale = MAX_SIDE / max(image.size)
    if scale >= 1:
        return image
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


def centre_square(image: Image.Image, side: int) -> Image.Image:
    crop = min(image.size)
    left, top = (image.width - crop) // 2, (image.height - crop) // 2
    square = image.crop((left, top, left + crop, top + crop))
    return square.resize((side, side), Image.Resampling.LANCZOS)


def side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    """Two HALF x HALF centre squares, left then right: a (2 * HALF) x HALF photo."""
    both = Image.new("RGB", (2 * HALF, HALF))
    both.paste(centre_square(left, HALF), (0, 0))
    both.paste(centre_square(right, HALF), (HALF, 0))
    return both


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, default=Path("/tmp/wheels"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "examples")
    args = parser.parse_args()
    wheels = sorted(args.wheels.glob("scikit_image-*.whl"))
    if not wheels:
        sys.exit(f"no scikit_image wheel in {args.wheels}: see this script's docstring")
    with zipfile.ZipFile(wheels[-1]) as wheel:
        photos = {name: read_photo(wheel, name) for name in PHOTOS}
    for name, target in PHOTOS.items():
        shrink(photos[name]).save(args.out / target, "JPEG", quality=QUALITY)
    pair = side_by_side(photos["chelsea.png"], photos["coffee.png"])
    pair.save(args.out / "cat_and_coffee.jpg", "JPEG", quality=QUALITY)
    print(f"wrote {len(PHOTOS) + 1} photos to {args.out}")


if __name__ == "__main__":
    main()
