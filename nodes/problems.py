"""Problems found in a workflow: each names the node, the input and the fix, so the
editor can highlight the spot and the CLI can print a report a creator can act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a workflow document."""

    message: str
    node_id: str | None = None
    input: str | None = None
    fix: str = ""
    severity: str = ERROR
    #: Short machine-readable kind: "unknown-type", "missing-input", "cycle", ...
    code: str = ""
    node_type: str | None = None

    def where(self) -> str:
        if self.node_id is None:
            return "workflow"
        place = f"node {self.node_id!r}"
        if self.node_type:
            place += f" ({self.node_type})"
        if self.input:
            place += f", input {self.input!r}"
        return place

    def __str__(self) -> str:
        text = f"{self.where()}: {self.message}"
        if self.fix:
            text += f" — fix: {self.fix}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "node_id": self.node_id,
            "node_type": self.node_type,
            "input": self.input,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass
class ValidationReport:
    """Every problem found at once; ``ok`` when none of them is an error."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def for_node(self, node_id: str) -> list[Problem]:
        return [problem for problem in self.problems if problem.node_id == node_id]

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)

    def __len__(self) -> int:
        return len(self.problems)

    def text(self) -> str:
        """The report as a creator reads it in a terminal."""
        if not self.problems:
            return "The workflow is valid."
        lines = [
            f"{len(self.errors)} error(s), {len(self.warnings)} warning(s):",
        ]
        lines += [f"  {problem.severity}: {problem}" for problem in self.problems]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [problem.to_json() for problem in self.problems]}


class WorkflowError(Exception):
    """A workflow document that cannot be read or run; carries the full report."""

    def __init__(self, problems: list[Problem] | ValidationReport, source: str = "") -> None:
        report = problems if isinstance(problems, ValidationReport) else ValidationReport(problems)
        self.report = report
        self.source = source
        prefix = f"{source}: " if source else ""
        first = report.problems[0] if report.problems else None
        more = len(report.problems) - 1
        summary = str(first) if first else "invalid workflow"
        if more > 0:
            summary += f" (and {more} more problem{'s' if more > 1 else ''})"
        super().__init__(prefix + summary)

    @property
    def problems(self) -> list[Problem]:
        return self.report.problems
