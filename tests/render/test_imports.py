import subprocess
import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]
_MODULES = ["colormap", "overlay", "png", "encode", "text_spans", "html"]


def test_render_needs_neither_tensorflow_nor_matplotlib() -> None:
    imports = "; ".join(f"import app.render.{module}" for module in _MODULES)
    check = "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; {imports}; {check}"],
        cwd=_REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"
