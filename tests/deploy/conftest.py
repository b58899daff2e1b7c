"""The deploy files, and what they must agree with: the app's settings and routes."""

import importlib.util
import re
import shlex
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from app.main import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def read_yaml(relative: str) -> Any:
    return yaml.safe_load((ROOT / relative).read_text())


def load_script(relative: str) -> ModuleType:
    """A standalone script (not in a package) as a module, for its functions and constants."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(f"deploy_script_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def setting_env_names() -> set[str]:
    return {f"GRADCAM_{name.upper()}" for name in Settings.model_fields}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def dockerfile_env() -> dict[str, str]:
    pairs = [
        word.split("=", 1)
        for keyword, arguments in dockerfile_instructions()
        if keyword == "ENV"
        for word in shlex.split(arguments)
    ]
    return dict(pairs)


def route_paths(routes: list[Any], prefix: str = "") -> set[str]:
    """Every path the app routes, through included routers (Starlette keeps them nested)."""
    paths = set()
    for route in routes:
        if getattr(route, "path", None):
            paths.add(prefix + route.path)
        included = getattr(route, "original_router", None)
        if included is not None:
            context_prefix = getattr(getattr(route, "include_context", None), "prefix", "")
            paths |= route_paths(included.routes, prefix + context_prefix)
    return paths


@pytest.fixture(scope="session")
def app_paths() -> set[str]:
    """The routes of the app as built (its lifespan, which loads models, is not needed)."""
    return route_paths(create_app(Settings(_env_file=None)).routes)
