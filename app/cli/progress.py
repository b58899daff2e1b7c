"""The progress bars of `gradcam explain` (images done, rate and time left) and of
`gradcam audit` (a job's progress), on stderr.

rich (already installed with keras) renders it; nothing is shown for a single image.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("- img/s" if speed is None else f"{speed:.1f} img/s")


@contextmanager
def progress_bar(total: int) -> Iterator[Callable[[], None]]:
    """A callable that counts one image done."""
    if total <= 1:
        yield lambda: None
        return
    columns = (
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        "ETA",
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("explain", total=total)
        yield lambda: progress.advance(task)


@contextmanager
def job_progress_bar() -> Iterator[Callable[[int, int], None]]:
    """A callable `(done, total)` that shows a job's progress (instances through its checks)."""
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), "ETA", TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("audit", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        yield update
