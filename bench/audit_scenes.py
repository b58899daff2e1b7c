"""The pointing game of every method on held-out `shapes_seg` / `shapes_det` scenes.

    python -m bench.audit_scenes --model shapes_seg [--n 40] [--seed 9191] \
        [--method gradcam hirescam ...] [--report out.html]

Scenes: `training/shapes_scenes.make_scenes(n, seed)` (1-3 shapes each; the models were
trained on seeds 2026 and 2027, their READMEs' figures used 12345 and 12346, their tests
31337). Every object of every scene is an instance: the scene's image, the object's class
(`shapes_seg` counts the background as class 0, so a shape's label is its class + 1) and,
for `shapes_seg`, the object's own pixels as a mask (the region explained and pointed
at); for `shapes_det`, its box (the box explained and pointed at). The audit is the
service's (`prepare_audit`, `run_audit`), in this process, with the checks pointing and
energy-pointing and the pointing margin of 15 px; the pointing game without a margin (15 px
is a quarter of these 64 px scenes) is computed here on the same maps. Methods: every one the model's head can explain
(`--method` to choose); prints a Markdown table and the seconds each method took.
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SEED = 9191
MARGIN = 15.0  # px, Zhang et al.'s


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def scene_items(model: str, n: int, seed: int) -> list[Any]:
    """One `AuditItem` per object of `n` held-out scenes (see the module's docstring)."""
    from app.jobs.audit_inputs import AuditItem
    from training.shapes_scenes import make_scenes

    scenes = make_scenes(n, seed)
    items = []
    for scene in range(len(scenes)):
        image = png(scenes.images[scene])
        for slot, (cls, box) in enumerate(scenes.objects(scene)):
            x0, y0, x1, y1 = (int(v) for v in box)
            name = f"scene{scene}.{slot}"
            if model == "shapes_seg":
                own = np.zeros(scenes.masks.shape[1:], np.uint8)
                own[y0:y1, x0:x1] = (scenes.masks[scene, y0:y1, x0:x1] == cls + 1) * 255
                items.append(AuditItem(cls + 1, image=image, mask=png(own), name=name))
            else:
                items.append(AuditItem(cls, image=image, box=(x0, y0, x1, y1), name=name))
    return items


def served_model(model: str) -> Any:
    from app.registry.registry import load_registry

    with tempfile.TemporaryDirectory() as folder:
        shutil.copytree(ROOT / "models" / model, Path(folder) / model)
        registry = load_registry(Path(folder))
        registry.warm_up()
        return registry.get(model)


def head_methods(served: Any) -> list[str]:
    """The methods the model offers that its explained layer and head take."""
    from app.engine.methods import model_methods
    from app.errors import InvalidInput

    found = []
    for method in model_methods(served.model):
        try:
            served.gradcam(None, method)
        except InvalidInput as exc:
            print(f"# {method}: refused ({exc.detail})")
            continue
        found.append(method)
    return found


def report_picture(report: Path, out: Path, width: int = 1100) -> None:
    """The report's worst cases (from its "Least mass inside the box" heading to the
    next one) as a PNG, drawn by headless Chromium (Debian's)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.goto(report.resolve().as_uri())
            top, bottom = page.evaluate(
                """() => {
                    const heads = [...document.querySelectorAll('h2')];
                    const at = heads.findIndex(h => h.textContent.startsWith('Least mass'));
                    const y = e => e.getBoundingClientRect().top + window.scrollY;
                    return [y(heads[at]), y(heads[at + 1])];
                }"""
            )
            clip = {"x": 0, "y": top - 8, "width": width, "height": bottom - top}
            page.screenshot(path=str(out), full_page=True, clip=clip)
        finally:
            browser.close()


def strict_pointing(heatmaps: np.ndarray, audit: Any) -> float:
    """The pointing game without a margin, on the audit's maps: its definition
    (`pointing_hit` on the map at the input size) with the object itself as the region."""
    from app.engine.evaluation.pointing import pointing_hit
    from app.jobs.audit import at_input_size

    full = at_input_size(audit, heatmaps)
    return float(np.mean([pointing_hit(m, r) for m, r in zip(full, audit.regions, strict=True)]))


def main() -> None:
    from app.jobs.audit import run_audit
    from app.jobs.audit_inputs import AuditParameters, prepare_audit
    from app.jobs.audit_job import audit_work
    from app.jobs.audit_summary import summarise
    from app.jobs.manager import Job, Progress
    from app.jobs.report import render_report
    from app.preprocess.image import ImageLimits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("shapes_seg", "shapes_det"), required=True)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--method", nargs="+")
    parser.add_argument("--skip", nargs="+", default=[], help="methods left out")
    parser.add_argument("--report", type=Path, help="write the report of one more audit")
    parser.add_argument("--report-method", nargs="+", default=["gradcam", "hirescam", "eigencam"])
    parser.add_argument("--picture", type=Path, help="the report drawn by headless Chromium")
    parser.add_argument("--report-only", action="store_true", help="no table")
    args = parser.parse_args()

    served = served_model(args.model)
    items = scene_items(args.model, args.n, args.seed)
    print(f"{args.model}: {len(items)} objects in {args.n} scenes (seed {args.seed})")
    checks = ("pointing", "energy-pointing")

    def audited(methods: tuple[str, ...], margin: float) -> tuple[Any, Any]:
        params = AuditParameters(methods=methods, checks=checks, pointing_margin=margin)
        audit = prepare_audit(served, items, params, ImageLimits())
        return params, audit

    if args.report is not None:
        params, audit = audited(tuple(args.report_method), MARGIN)
        _, report = audit_work(served, audit, params)(Progress(Job("", "", "", "", 0.0)))
        args.report.write_text(render_report(report), encoding="utf-8")
        print(f"report ({', '.join(args.report_method)}, 15 px): {args.report}")
        if args.picture is not None:
            report_picture(args.report, args.picture)
        if args.report_only:
            return
    rows, accuracy = [], None
    for method in [m for m in args.method or head_methods(served) if m not in args.skip]:
        started = time.perf_counter()
        params, audit = audited((method,), MARGIN)
        records = run_audit(served, audit, params, Progress(Job("", "", "", "", 0.0)))
        seconds = time.perf_counter() - started
        found = summarise(records, audit, served.labels)
        accuracy = found["accuracy"]
        scores = found["methods"][method]
        strict = strict_pointing(records[method].heatmaps, audit)
        rows.append(
            f"| {method} | {scores['pointing']:.3f} | {strict:.3f} | "
            f"{scores['energy_pointing']:.3f} | {seconds:.0f} s |"
        )
        print(rows[-1], flush=True)
    print(f"\naccuracy (the head's class for each object): {accuracy:.3f}\n")
    print("| method | pointing (15 px) | pointing (0 px) | energy pointing | time |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
