"""The CLI on a folder of photos: images/s with --local and with --url (--jobs 1 and 4),
side by side with a raw HTTP load of the same photos on the same server.

    python -m bench.cli_folder [--model ID] [--models-dir DIR] [--photos 200]

The model: efficientnet_lite0 when the models folder has it, else mobilenet_v2, else
shapes. The photos are crops, flips and resizes of docs/examples images, made at run
time in a temporary folder (JPEG, 320 to 800 pixels wide). Each CLI run is a fresh
process: images/s is the CLI's own count (first image sent to last one written), the
process's wall time, start-up included (imports, model load), is shown apart. The raw load sends the same JPEGs as raw bodies with
PNG overlays, as bench.http_load does, from 1 and 4 concurrent keep-alive clients.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from bench.http_load import ROOT, free_port, start_server
from bench.raw_client import RawClient, timed_post

PREFERRED = ("efficientnet_lite0", "mobilenet_v2", "shapes")


def pick_model(models_dir: Path) -> str:
    for model in PREFERRED:
        if (models_dir / model / "model.toml").is_file():
            return model
    raise SystemExit(f"none of {', '.join(PREFERRED)} in {models_dir}; pass --model")


def make_photos(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` JPEG photos cut from the example images: crop, flip, resize, recompress."""
    examples = sorted((ROOT / "docs/examples").glob("*.jpg"))  # the photos, not README.md
    sources = [Image.open(p).convert("RGB") for p in examples]
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        image = sources[index % len(sources)]
        width, height = image.size
        scale = rng.uniform(0.6, 1.0)
        crop_w, crop_h = int(width * scale), int(height * scale)
        left = int(rng.integers(0, width - crop_w + 1))
        top = int(rng.integers(0, height - crop_h + 1))
        photo = image.crop((left, top, left + crop_w, top + crop_h))
        if rng.integers(2):
            photo = ImageOps.mirror(photo)
        new_width = int(rng.integers(320, 801))
        photo = photo.resize((new_width, int(new_width * rng.uniform(0.6, 1.0))), Image.BILINEAR)
        path = folder / f"photo-{index:04d}.jpg"
        photo.save(path, "JPEG", quality=int(rng.integers(80, 95)))
        paths.append(path)
    return paths


def run_cli(args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall-clock seconds of one `gradcam explain` process (it must succeed), and the
    images/s it reports itself."""
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": cli_path()}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "explain", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"gradcam explain {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    rate = re.search(r"images in [0-9.]+ s \(([0-9.]+) images/s\)", result.stderr)
    if rate is None:
        raise RuntimeError(f"no rate in the CLI's output:\n{result.stderr[-2000:]}")
    return seconds, float(rate.group(1))


def cli_path() -> str:
    parts = [str(ROOT), str(ROOT / "clients" / "python"), os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(part for part in parts if part)


def cli_rate(label: str, folder: Path, args: list[str], work: Path) -> float:
    """Print and return the images/s of the CLI on the folder."""
    count = len(list(folder.iterdir()))
    wall, rate = run_cli([str(folder), *args, "--out", str(work / label.replace(" ", "-"))], work)
    print(
        f"  {label:<18} {rate:6.1f} images/s   (process wall time {wall:5.1f} s for {count},"
        f" {count / wall:5.1f} images/s with start-up)"
    )
    return rate


async def raw_rate(base: str, model: str, photos: list[bytes], clients: int) -> float:
    """Answered requests per second from `clients` closed-loop keep-alive clients."""
    host, port = base.removeprefix("http://").split(":")
    client = RawClient(host, int(port))
    path = f"/v1/models/{model}:explain?overlay_format=png"
    queue = iter(photos)
    statuses: list[int] = []

    async def worker() -> None:
        for photo in queue:
            statuses.append((await timed_post(client, path, photo, "image/jpeg"))[1])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    seconds = time.perf_counter() - started
    await client.close()
    failed = len([s for s in statuses if s != 200])
    if failed:
        print(f"  (raw load: {failed} of {len(statuses)} requests not answered 200)")
    return (len(statuses) - failed) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help=f"default: the first of {', '.join(PREFERRED)} present")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--photos", type=int, default=200)
    args = parser.parse_args()
    model = args.model or pick_model(args.models_dir)
    with tempfile.TemporaryDirectory(prefix="cli-folder-") as temp:
        work = Path(temp)
        folder = work / "photos"
        folder.mkdir()
        photos = make_photos(folder, args.photos)
        sizes = [Image.open(p).size for p in photos]
        print(
            f"model {model}; {len(photos)} JPEG photos, {min(s[0] for s in sizes)} to "
            f"{max(s[0] for s in sizes)} pixels wide; PNG overlays, top target"
        )
        common = ["--model", model]
        local_args = [*common, "--local", "--models-dir", str(args.models_dir)]
        local = cli_rate("--local --jobs 1", folder, local_args, work)
        local_4 = cli_rate("--local --jobs 4", folder, [*local_args, "--jobs", "4"], work)
        port = free_port()
        server = start_server(port, {"GRADCAM_MODELS_DIR": str(args.models_dir)})
        base = f"http://127.0.0.1:{port}"
        try:
            data = [p.read_bytes() for p in photos]
            url_rates, raw = {}, {}
            for jobs in (1, 4):  # each CLI run next to its raw twin: the machine is shared
                url_args = [*common, "--url", base, "--jobs", str(jobs)]
                url_rates[jobs] = cli_rate(f"--url --jobs {jobs}", folder, url_args, work)
                raw[jobs] = asyncio.run(raw_rate(base, model, data, jobs))
        finally:
            server.terminate()
            server.wait(30)
    print("\nraw HTTP load of the same photos (bench.raw_client, raw JPEG bodies):")
    for clients, rate in raw.items():
        print(
            f"  {clients} client{'s' if clients > 1 else ' '}                {rate:6.1f} images/s"
        )
    print("\nratios (CLI images/s / raw HTTP images/s at the same concurrency):")
    for jobs in (1, 4):
        print(f"  --url --jobs {jobs} / raw {jobs}: {url_rates[jobs] / raw[jobs]:.2f}")
    print(f"  --local --jobs 1 / raw 1: {local / raw[1]:.2f}")
    print(f"  --local --jobs 4 / raw 4: {local_4 / raw[4]:.2f}")


if __name__ == "__main__":
    main()
