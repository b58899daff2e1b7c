"""Print the project's requirements from pyproject.toml, one a line, for the image's
dependency layer: `python requirements.py --variant gpu --extras ray`.

Installing these before the code is copied keeps that slow layer cached while only code
changes; the `pip install .` that follows then finds every requirement satisfied.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path
from typing import Any

# The GPU variant: TensorFlow with CUDA and cuDNN as pip wheels, so any base image works.
GPU_EXTRAS = {"tensorflow": "and-cuda"}


def requirements(project: dict[str, Any], *, variant: str, extras: list[str]) -> list[str]:
    found = list(project["dependencies"])
    for extra in extras:
        found += project["optional-dependencies"][extra]
    return [with_gpu_extra(r) for r in found] if variant == "gpu" else found


def with_gpu_extra(requirement: str) -> str:
    """`tensorflow>=2.21,<2.22` -> `tensorflow[and-cuda]>=2.21,<2.22`; others unchanged."""
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    name = match.group() if match else ""
    if name.lower() not in GPU_EXTRAS or requirement[len(name) :].startswith("["):
        return requirement
    return f"{name}[{GPU_EXTRAS[name.lower()]}]{requirement[len(name) :]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    parser.add_argument("--variant", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--extras", default="", help="comma-separated, e.g. ray")
    args = parser.parse_args()
    project = tomllib.loads(args.pyproject.read_text())["project"]
    extras = [e.strip() for e in args.extras.split(",") if e.strip()]
    print("\n".join(requirements(project, variant=args.variant, extras=extras)))


if __name__ == "__main__":
    main()
