import subprocess
import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]


def test_preprocess_needs_no_tensorflow() -> None:
    code = (
        "import sys, app.preprocess.image, app.preprocess.text; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=_REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
