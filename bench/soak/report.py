"""The soak's figures and its goals: memory at the end at most 5 % above after the
warm-up, no trace after the warm-up but version 2's own, every answer as expected."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bench.soak.repository import VERSIONED
from bench.soak.run import Mark, Tally

MEMORY_GOAL = 1.05


@dataclass
class Report:
    warm: Mark
    end: Mark
    tally: Tally
    samples: list[tuple[int, float]]  # (request index, RSS MB) every 250 requests
    seconds: float

    @property
    def memory_ratio(self) -> float:
        return self.end.rss_mb / self.warm.rss_mb

    @property
    def new_traces(self) -> float:
        return self.end.traces - self.warm.traces

    @property
    def version_2_traces(self) -> float:
        """Version 2 serves at the end: its compiled steps' traces (its first calls)."""
        return self.end.model_traces[VERSIONED] if "2" in self.tally.versions else 0.0

    @property
    def retraces(self) -> float:
        return self.new_traces - self.version_2_traces

    @property
    def goals_met(self) -> bool:
        swapped = "2" in self.tally.versions
        return (
            self.memory_ratio <= MEMORY_GOAL
            and self.retraces == 0
            and not self.tally.failures
            and swapped
        )


def print_report(report: Report) -> None:
    tally, warm, end = report.tally, report.warm, report.end
    statuses = Counter(status for (_, status), count in tally.answers.items() for _ in range(count))
    print(f"\nsoak: {tally.sent} requests in {report.seconds:.0f} s ({warm.requests} warm-up)")
    print("  answers by status: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    print(f"  unexpected answers: {tally.failures}")
    for line in tally.unexpected[:10]:
        print(f"    {line}")
    versions = ", ".join(f"{v}: {n}" for v, n in sorted(tally.versions.items()))
    print(f"  {VERSIONED} answered by version: {versions}")
    print(
        "  RSS every 250 requests (MB): " + ", ".join(f"{m:.0f}" for _, m in sorted(report.samples))
    )
    verdict = "met" if report.memory_ratio <= MEMORY_GOAL else "NOT met"
    print(
        f"  RSS after warm-up {warm.rss_mb:.1f} MB, at the end {end.rss_mb:.1f} MB: "
        f"{end.rss_mb - warm.rss_mb:+.1f} MB, ratio {report.memory_ratio:.3f} "
        f"(goal <= {MEMORY_GOAL}): {verdict}"
    )
    print(
        f"  tf.function traces (process) after warm-up {warm.traces:.0f}, at the end "
        f"{end.traces:.0f}: {report.new_traces:.0f} new, of which version 2's own first "
        f"calls {report.version_2_traces:.0f} (version 1 had {warm.model_traces[VERSIONED]:.0f})"
    )
    verdict = "met" if report.retraces == 0 else "NOT met"
    print(f"  retraces after warm-up: {report.retraces:.0f} (goal 0): {verdict}")
    for model, traces in warm.model_traces.items():
        if model != VERSIONED and end.model_traces[model] != traces:
            print(f"    {model}: {traces:.0f} -> {end.model_traces[model]:.0f} traces")
    print(f"  goals: {'met' if report.goals_met else 'NOT met'}")
