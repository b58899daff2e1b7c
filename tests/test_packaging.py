"""Every library app/ imports is a declared runtime dependency (a fresh `pip install .`
must be enough to serve), and the README and CI run the same test command."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = {"app/serve_ray.py": {"ray"}, "app/cli/audit_ray.py": {"ray"}}  # the `ray` extra


def declared_runtime() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {
        re.split(r"[\[<>=!~ ;]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]
    }
    # What a declared package itself requires is installed with it (fastapi -> starlette).
    for name in list(names):
        for requirement in requires(name) or []:
            if "extra ==" not in requirement:
                names.add(re.split(r"[\[<>=!~ ;(]", requirement, maxsplit=1)[0].lower())
    return {name.replace("_", "-") for name in names}


def imported_top_level(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    # gradcam_client: shipped by this distribution too (clients/python, see pyproject).
    return modules - set(sys.stdlib_module_names) - {"app", "gradcam_client", "__future__"}


def test_app_imports_only_declared_runtime_dependencies():
    declared = declared_runtime()
    distributions = packages_distributions()
    missing = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        for module in imported_top_level(path) - OPTIONAL.get(relative, set()):
            dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
            if not dists & declared:
                missing.append(f"{relative}: {module} ({', '.join(sorted(dists))})")
    assert not missing, "not in [project.dependencies]: " + "; ".join(missing)


def test_ci_runs_the_readme_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    command = ci_lines[-1]  # the last line of .ci/run is the command it runs
    assert command.rsplit(" && ", 1)[-1].startswith(".venv/bin/pytest ")  # pytest runs last
    assert "pip install -q -e '.[dev]'" in command
    readme_lines = (ROOT / "README.md").read_text().splitlines()
    assert command in readme_lines, "the README's test command differs from .ci/run's"


def test_the_client_imports_only_its_own_small_dependencies():
    client = ROOT / "clients" / "python"
    project = tomllib.loads((client / "pyproject.toml").read_text())["project"]
    declared = {
        re.split(r"[\[<>=!~ ;]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]
    }
    assert declared == {"httpx", "numpy", "pillow"}
    imported = set()
    for path in (client / "gradcam_client").rglob("*.py"):
        imported |= imported_top_level(path)
    assert imported == {"httpx", "numpy", "PIL"}
