"""Where `copier copy --skip-tasks` spends its time, phase by phase, for this template and
for the trivial one it is compared with: the profile behind the copy row's ratio.

Each copy runs in this process through Copier's API (`run_copy`), with a timer around the
Copier functions of each phase; "everything else" is the rest of the copy (cloning the
template, rendering paths and matching `_exclude`, git, writing files). The first copy of each template is not counted (imports).
"""

import shutil
import statistics
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from copier import _template, run_copy
from copier._main import Worker

# A phase: the Copier function that does it, as (owner, attribute name).
PHASES: dict[str, tuple[Any, str]] = {
    "reading copier.yml": (_template, "load_template_config"),
    "questions: defaults, validators": (Worker, "_ask"),
    "rendering file contents": (Worker, "_render_file"),
}
# _render_path yields lazily, so its time (paths, _exclude) falls in the rest.
REST = "everything else (clone, paths and _exclude, git, writing)"


@contextmanager
def timed_phases(spent: Counter[str]) -> Iterator[None]:
    """Add each phase's seconds to `spent` while the block runs."""
    originals = {phase: getattr(owner, name) for phase, (owner, name) in PHASES.items()}

    def timer(phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[phase] += time.perf_counter() - start

        return timed

    for phase, (owner, name) in PHASES.items():
        setattr(owner, name, timer(phase, originals[phase]))
    try:
        yield
    finally:
        for phase, (owner, name) in PHASES.items():
            setattr(owner, name, originals[phase])


def phase_seconds(template: Path, destination: Path, runs: int) -> dict[str, float]:
    """Median seconds of each phase, and of the whole copy, over `runs` copies."""
    samples: dict[str, list[float]] = {}
    for number in range(runs + 1):
        shutil.rmtree(destination, ignore_errors=True)
        spent: Counter[str] = Counter()
        start = time.perf_counter()
        with timed_phases(spent), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a dirty template: copier says it copies it
            run_copy(
                str(template),
                destination,
                defaults=True,
                unsafe=True,
                skip_tasks=True,
                quiet=True,
                vcs_ref="HEAD",
            )
        total = time.perf_counter() - start
        if number == 0:
            continue
        for phase in PHASES:
            samples.setdefault(phase, []).append(spent[phase])
        samples.setdefault(REST, []).append(total - sum(spent.values()))
        samples.setdefault("total", []).append(total)
    return {phase: statistics.median(values) for phase, values in samples.items()}


def phase_table(ours: Path, trivial: Path, work: Path, runs: int) -> list[str]:
    """The Markdown table: each phase in ms for both templates, and the difference."""
    mine = phase_seconds(ours, work / "phases-ours", runs)
    peer = phase_seconds(trivial, work / "phases-trivial", runs)
    lines = [
        "| Phase | ours (ms) | trivial template (ms) | ours − trivial (ms) |",
        "|---|---:|---:|---:|",
    ]
    for phase in mine:
        lines.append(
            f"| {phase} | {mine[phase] * 1000:.0f} | {peer[phase] * 1000:.0f} "
            f"| {(mine[phase] - peer[phase]) * 1000:+.0f} |"
        )
    return lines
