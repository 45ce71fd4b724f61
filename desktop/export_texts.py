"""What the export dialog says, in words and without widgets: each preset's label,
the suggested file name, and the outcome of an export — the check's verdict with its
reasons, or what stopped the export and what to fix."""

from __future__ import annotations

import re
from dataclasses import dataclass

from desktop.theme import ERROR, SUCCESS, WARNING
from gpu.timeline_render import ExportPreset, RenderError, RenderResult
from nodes.context import Cancelled
from nodes.media_checks import CheckReport
from nodes.timeline import ProjectError

#: At most this many of a project's problems are listed; the rest are counted.
LISTED_PROBLEMS = 12


@dataclass(frozen=True)
class Outcome:
    """How an export ended, as the dialog shows it."""

    headline: str
    details: str
    colour: str
    #: For the ``failed`` signal (the main window's log); empty when nothing failed.
    message: str = ""
    #: A bug, not the creator's doing: worth a traceback in the log.
    unexpected: bool = False


def preset_label(preset: ExportPreset) -> str:
    """``High — 1920×1080, 30 fps``: what the creator compares presets by."""
    text = f"{preset.name.capitalize()} — {preset.width}×{preset.height}, {preset.fps:g} fps"
    if preset.max_seconds is not None:
        text += f", at most {preset.max_seconds:g} s"
    return text


def file_stem(name: str) -> str:
    """A project name as a file name: words joined by dashes, nothing a file system refuses."""
    return re.sub(r"[^\w]+", "-", name).strip("-")[:80] or "export"


def check_facts(check: CheckReport) -> str:
    """What the check measured, in one line."""
    sound = "sound" if check.has_audio else "no sound"
    return f"{check.duration:.2f} s, {check.width}×{check.height} ({check.aspect}), {check.fps:g} fps, {sound}"


def result_outcome(result: RenderResult) -> Outcome:
    """A written file: the check's verdict, its reasons when it failed, where the file and report are."""
    lines = [f"⚠ {warning}" for warning in result.warnings]
    check = result.check
    if check is None:
        headline, colour = f"Written: {result.path}", SUCCESS
    elif check.passed:
        headline, colour = "Check passed: the file is what the preset asks for.", SUCCESS
        lines.insert(0, check_facts(check))
    else:
        count = len(check.problems)
        headline, colour = f"Check failed: {count} problem{'s' if count != 1 else ''} with the file.", ERROR
        lines = [f"• {problem}" for problem in check.problems] + [check_facts(check)] + lines
    lines.append(f"File: {result.path}")
    if result.check_path is not None:
        lines.append(f"Check report: {result.check_path}")
    return Outcome(headline, "\n".join(lines), colour)


def error_outcome(error: BaseException) -> Outcome:
    """An export that wrote no file: cancelled, a project to fix (every problem named), or a failure."""
    if isinstance(error, Cancelled):
        return Outcome("Export cancelled: no file was written.", "", WARNING)
    if isinstance(error, ProjectError):
        count = len(error.problems)
        listed = [f"• {problem}" for problem in error.problems[:LISTED_PROBLEMS]]
        if count > LISTED_PROBLEMS:
            listed.append(f"… and {count - LISTED_PROBLEMS} more")
        return Outcome(f"The project cannot be exported yet: {count} problem{'s' if count != 1 else ''} to fix.",
                       "\n".join(listed) or str(error), ERROR, error.text())
    if isinstance(error, (RenderError, OSError)):
        return Outcome("The export failed; no file was written.", str(error), ERROR, f"The export failed: {error}")
    described = f"{type(error).__name__}: {error}"
    return Outcome("The export failed unexpectedly; no file was written.", f"{described} (details are in the log)",
                   ERROR, f"The export failed unexpectedly: {described}", unexpected=True)
