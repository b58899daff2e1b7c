"""`python -m app.export_openapi`: write the committed OpenAPI document from the app."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from app.main import create_app
from app.settings import Settings

DEFAULT_PATH = Path("openapi/openapi.json")


def openapi_text() -> str:
    # The document depends only on the routes and schemas, not on models or settings.
    document: dict[str, Any] = create_app(Settings(_env_file=None, docs_enabled=True)).openapi()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(openapi_text(), encoding="utf-8")


if __name__ == "__main__":
    main()
