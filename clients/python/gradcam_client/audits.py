"""Audits as calls: an audit job's request body and the paths that follow the job.

An instance is `audit_instance(image, label, box=[x0, y0, x1, y1])` (or `mask=` a PNG of
the image's size): the image as a path, bytes, PIL image or uint8 array, as elsewhere.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from gradcam_client.inputs import image_bytes
from gradcam_client.protocol import Call


def audit_instance(
    image: Any,
    label: int,
    *,
    box: Sequence[float] | None = None,
    mask: Any = None,
    name: str | None = None,
) -> dict[str, Any]:
    instance: dict[str, Any] = {"image": {"b64": b64(image_bytes(image))}, "label": int(label)}
    if box is not None:
        instance["box"] = [float(v) for v in box]
    if mask is not None:
        instance["mask"] = {"b64": b64(image_bytes(mask))}
    if name is not None:
        instance["name"] = name
    return instance


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def audit_call(
    model: str,
    instances: list[dict[str, Any]],
    parameters: dict[str, Any],
    version: str | None = None,
) -> Call:
    path = f"/v1/models/{quote(model, safe='')}"
    if version is not None:
        path += f"/versions/{quote(version, safe='')}"
    body = {
        "instances": instances,
        "parameters": {key: value for key, value in parameters.items() if value is not None},
    }
    return Call("POST", f"{path}:audit", body)


def job_path(job: str) -> str:
    """`job` as the service's path, given its id or its path (`/v1/jobs/...`)."""
    return job if job.startswith("/") else f"/v1/jobs/{quote(job, safe='')}"


FINISHED = ("done", "failed", "cancelled")
