"""Audit throughput (instances per second) on the shapes model: in this process, and
with `--ray` spread over the two-node loopback Ray cluster of tests/deploy (needs root for
`unshare` and the ray extra).

    python -m bench.audit                  # in-process: run_audit on prepared instances
    python -m bench.audit --ray            # the same set through `gradcam audit --ray`

The audit: methods gradcam and eigencam, checks pointing, energy-pointing, random-logit and
randomization (12 layers), on `--n` held-out shapes scenes. In-process the figure is the
audit alone (model loaded and warmed before); on Ray it is the Ray Data execution,
including the actors' start and model load on each node (printed separately).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("gradcam", "eigencam")
CHECKS = ("pointing", "energy-pointing", "random-logit", "randomization")


def in_process(n: int) -> None:
    from app.jobs.audit import run_audit
    from app.jobs.audit_inputs import AuditItem, AuditParameters, prepare_audit
    from app.jobs.manager import Job, Progress
    from app.preprocess.image import ImageLimits
    from app.registry.registry import load_registry
    from tests.jobs.conftest import png
    from training.shapes_data import make_shapes

    with tempfile.TemporaryDirectory() as folder:
        shutil.copytree(ROOT / "models" / "shapes", Path(folder) / "shapes")
        registry = load_registry(Path(folder))
        registry.warm_up()
        served = registry.get("shapes")
    images, labels, boxes = make_shapes(n, seed=8080)
    items = [
        AuditItem(int(label), image=png(image), box=tuple(float(v) for v in box))
        for image, label, box in zip(images, labels, boxes, strict=True)
    ]
    params = AuditParameters(methods=METHODS, checks=CHECKS)
    prepared = prepare_audit(served, items, params, ImageLimits())
    run_audit(served, prepare_audit(served, items[:8], params, ImageLimits()), params,
              Progress(Job("", "", "", "", 0.0)))  # fmt: skip  # warm every compiled path
    started = time.perf_counter()
    run_audit(served, prepared, params, Progress(Job("", "", "", "", 0.0)))
    seconds = time.perf_counter() - started
    print(f"in-process: {n} instances in {seconds:.1f} s = {n / seconds:.2f} instances/s")


def on_ray(n: int) -> None:
    from tests.deploy.test_ray_audit import labelled_folder

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "set").mkdir()
        common = labelled_folder(root / "set", n)
        check = ROOT / "tests" / "deploy" / "ray_audit_check.py"
        models = ROOT / "models"
        inner = f"ip link set lo up && exec {sys.executable} {check} --own-pid-namespace"
        inner += f" --out {root / 'out.json'} -- {' '.join(common)} --models-dir {models}"
        inner += f" --report {root / 'ray.html'}"
        command = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child"]
        subprocess.run([*command, "bash", "-c", inner], check=True, timeout=1200, cwd=ROOT,
                       capture_output=True)  # fmt: skip
        found = json.loads((root / "out.json").read_text())
    ray = found["result"]["ray"]
    seconds = ray["seconds"]
    print(
        f"ray ({', '.join(ray['nodes'])}; {ray['batches']} batches): {n} instances in "
        f"{seconds:.1f} s = {n / seconds:.2f} instances/s (actors' start and model load "
        f"included); the whole command {found['seconds']:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--ray", action="store_true")
    args = parser.parse_args()
    (on_ray if args.ray else in_process)(args.n)


if __name__ == "__main__":
    main()
