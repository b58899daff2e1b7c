"""Calls to a remote model's `:predict`: batched, bounded, retried, checked.

A batch of instances goes out in calls of `batch` instances, at most `concurrency` in
flight per remote (a pool of its own). A call that meets a 503 or a connection error is
retried `retries` times, waiting 0.1 s, 0.2 s, 0.4 s, ... between tries; a call that
takes longer than `timeout` seconds is a 504 at once (retrying would only wait longer).
Any other failure, and an answer that is not one finite prediction vector per instance,
is a 502 naming the remote and what it said: never a 500, never a hang.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from app.errors import RemoteModelFailed, RemoteModelTimeout

FIRST_BACKOFF = 0.1  # seconds; doubled at each retry
QUOTED = 200  # characters of a remote's answer quoted in an error
STATUS_TIMEOUT = 5.0  # seconds: a readiness probe must answer sooner than a :predict


@dataclass(frozen=True)
class RemoteLimits:
    batch: int = 64
    concurrency: int = 4
    timeout: float = 30.0
    retries: int = 3


class RemoteClient:
    def __init__(
        self, url: str, limits: RemoteLimits, transport: httpx.BaseTransport | None = None
    ):
        self.url = url.rstrip("/")
        self.limits = limits
        self.calls = 0  # :predict calls sent, retries included (the bench reads it)
        self._http = httpx.Client(timeout=limits.timeout, transport=transport)
        self._pool = ThreadPoolExecutor(limits.concurrency, thread_name_prefix="remote")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def predict(self, instances: list[Any]) -> np.ndarray:
        """Predictions `(M, n)` float64 for M instances, in order."""
        size = self.limits.batch
        batches = [instances[start : start + size] for start in range(0, len(instances), size)]
        return np.concatenate(list(self._pool.map(self._predict_batch, batches)))

    def get(self, suffix: str = "") -> httpx.Response:
        """GET `url + suffix` (status, metadata): one try, at most `STATUS_TIMEOUT` s."""
        try:
            return self._http.get(
                self.url + suffix, timeout=min(self.limits.timeout, STATUS_TIMEOUT)
            )
        except httpx.TimeoutException as exc:
            raise self.timed_out() from exc
        except httpx.HTTPError as exc:
            raise RemoteModelFailed(f"remote model {self.url} is unreachable: {exc}") from exc

    def _predict_batch(self, instances: list[Any]) -> np.ndarray:
        response = self._post_retried({"instances": instances})
        return self.predictions(response, len(instances))

    def _post_retried(self, body: dict[str, Any]) -> httpx.Response:
        for attempt in range(self.limits.retries + 1):
            last = attempt == self.limits.retries
            self.calls += 1
            try:
                response = self._http.post(self.url + ":predict", json=body)
            except httpx.TimeoutException as exc:
                raise self.timed_out() from exc
            except httpx.TransportError as exc:
                if last:
                    raise RemoteModelFailed(
                        f"remote model {self.url} is unreachable after "
                        f"{attempt + 1} tries: {exc or type(exc).__name__}"
                    ) from exc
            else:
                if response.status_code != 503 or last:
                    return self.checked_status(response)
            time.sleep(FIRST_BACKOFF * 2**attempt)
        raise AssertionError("unreachable: the last try returns or raises")

    def checked_status(self, response: httpx.Response) -> httpx.Response:
        if response.status_code != 200:
            raise RemoteModelFailed(
                f"remote model {self.url} answered :predict with {response.status_code}: "
                f"{response.text[:QUOTED]!r}"
            )
        return response

    def predictions(self, response: httpx.Response, count: int) -> np.ndarray:
        """The answer's `predictions` as `(count, n)` floats, or a 502 saying why not."""
        try:
            body = response.json()
        except ValueError:
            raise self.nonsense(response, "the answer is not JSON") from None
        rows = body.get("predictions") if isinstance(body, dict) else None
        if not isinstance(rows, list) or len(rows) != count:
            raise self.nonsense(response, f"no list of {count} predictions")
        rows = [single_output(row) for row in rows]
        try:
            values = np.asarray(rows, dtype=np.float64)
        except (TypeError, ValueError):
            raise self.nonsense(response, "the predictions are not vectors of numbers") from None
        if values.ndim != 2 or values.shape[1] == 0 or not np.isfinite(values).all():
            raise self.nonsense(response, "the predictions are not finite vectors of one length")
        return values

    def nonsense(self, response: httpx.Response, why: str) -> RemoteModelFailed:
        return RemoteModelFailed(
            f"remote model {self.url} answered :predict with nonsense ({why}): "
            f"{response.text[:QUOTED]!r}"
        )

    def timed_out(self) -> RemoteModelTimeout:
        return RemoteModelTimeout(
            f"remote model {self.url} did not answer within {self.limits.timeout:g} s"
        )


def single_output(row: object) -> object:
    """A named output `{"probs": [...]}` (TF Serving, one output) is its vector."""
    if isinstance(row, dict) and len(row) == 1:
        return next(iter(row.values()))
    return row
