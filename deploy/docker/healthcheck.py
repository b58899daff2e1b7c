"""Container healthcheck: exit 0 when the service answers GET /v2/health/ready with 200.

That route answers 503 until every model is loaded and warmed, so a container turns
healthy only once it can explain. Standard library only: the slim image has no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.request

READY_PATH = "/v2/health/ready"


def is_ready(port: str, timeout_s: float = 4.0) -> bool:
    url = f"http://127.0.0.1:{port}{READY_PATH}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return bool(response.status == 200)
    except OSError:  # refused, timed out, or an HTTP error status such as 503
        return False


if __name__ == "__main__":
    sys.exit(0 if is_ready(os.environ.get("GRADCAM_PORT", "8000")) else 1)
