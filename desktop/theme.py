"""The look of the app: a dark Fusion palette, the stylesheet from ``resources/theme``
and the shipped SVG icons, with one accent colour (#00ffea) for what is active.

Widgets that paint themselves (the viewer, progress bars in lists) read the colour
constants here, so the whole app changes with this file and ``dark.qss``.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from resources import FOLDER as RESOURCES

ACCENT = "#00ffea"
ACCENT_DIM = "#00b8a9"
WINDOW = "#16191e"
DARKEST = "#0f1115"
PANEL = "#1c2027"
BORDER = "#2a3038"
TEXT = "#d7dde4"
TEXT_DIM = "#8a94a0"
ERROR = "#ff5c7a"
WARNING = "#ffb84d"
SUCCESS = "#5fe08a"
CACHED = "#7fb2ff"

THEME_FOLDER = RESOURCES / "theme"
ICON_FOLDER = RESOURCES / "icons"


def stylesheet(name: str = "dark") -> str:
    """The theme's QSS with icon URLs pointing at the shipped icons folder."""
    text = (THEME_FOLDER / f"{name}.qss").read_text(encoding="utf-8")
    return text.replace("@ICONS@", ICON_FOLDER.as_posix())


def palette() -> QPalette:
    """Colours for what the stylesheet does not reach (Fusion's own drawing, dialogs)."""
    colours = QPalette()
    roles = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: DARKEST,
        QPalette.ColorRole.AlternateBase: "#15191e",
        QPalette.ColorRole.ToolTipBase: "#1f242b",
        QPalette.ColorRole.ToolTipText: "#e9eef3",
        QPalette.ColorRole.PlaceholderText: "#5c6570",
        QPalette.ColorRole.Text: "#e9eef3",
        QPalette.ColorRole.Button: "#232931",
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: ACCENT_DIM,
        QPalette.ColorRole.HighlightedText: "#0f1115",
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.Mid: BORDER,
        QPalette.ColorRole.Dark: DARKEST,
        QPalette.ColorRole.Shadow: "#000000",
    }
    for role, colour in roles.items():
        colours.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        colours.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5c6570"))
    return colours


def apply_theme(app: QApplication, name: str = "dark") -> None:
    app.setStyle("Fusion")
    app.setPalette(palette())
    app.setStyleSheet(stylesheet(name))


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """A shipped icon by name (``run``, ``save``...); an empty icon when there is none."""
    path = ICON_FOLDER / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()
