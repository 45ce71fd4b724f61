"""Dockable panels that fold to their title bar, so the canvas gets the room when a
creator does not need the inspector or the log for a while.

A :class:`Panel` is a QDockWidget with its own title bar: a fold arrow, the title,
and buttons to float and close it. Double-clicking the title folds it too. The main
window remembers which panels are folded (QSettings) next to Qt's own dock state.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QMainWindow, QSizePolicy, QToolButton, QWidget

from desktop.theme import icon

UNLIMITED = 16777215  # QWIDGETSIZE_MAX


class PanelTitle(QWidget):
    """The title bar of a panel: fold arrow, title, float and close buttons."""

    def __init__(self, panel: "Panel") -> None:
        super().__init__(panel)
        self.setObjectName("panelTitle")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.panel = panel
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        self.fold_button = self._button("chevron-down", "Fold this panel to its title (double-click the title)")
        self.fold_button.clicked.connect(lambda: panel.set_collapsed(not panel.collapsed))
        self.label = QLabel(panel.windowTitle().upper(), self)
        self.label.setObjectName("panelTitleText")
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        float_button = self._button("float", "Float this panel in its own window")
        float_button.clicked.connect(lambda: panel.setFloating(not panel.isFloating()))
        close_button = self._button("close", "Hide this panel (View menu brings it back)")
        close_button.clicked.connect(panel.close)
        layout.addWidget(self.fold_button)
        layout.addWidget(self.label)
        layout.addWidget(float_button)
        layout.addWidget(close_button)

    def _button(self, icon_name: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(icon(icon_name))
        button.setIconSize(QSize(14, 14))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def show_collapsed(self, collapsed: bool) -> None:
        self.fold_button.setIcon(icon("chevron-right" if collapsed else "chevron-down"))
        self.fold_button.setToolTip("Unfold this panel" if collapsed else
                                    "Fold this panel to its title (double-click the title)")

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.panel.set_collapsed(not self.panel.collapsed)
        event.accept()


class Panel(QDockWidget):
    """A dock with a fold arrow; ``object_name`` keys its place in the saved layout."""

    collapsedChanged = Signal(bool)

    def __init__(self, title: str, object_name: str, body: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.setObjectName(object_name)
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        body.setObjectName(body.objectName() or "panelBody")
        self.setWidget(body)
        self.title_bar = PanelTitle(self)
        self.setTitleBarWidget(self.title_bar)
        self.collapsed = False
        self._unfolded_size = QSize(240, 240)
        self._folded_sideways = False

    def set_collapsed(self, collapsed: bool) -> None:
        """Fold the panel to its title bar (or unfold it); other panels take the room.

        A panel stacked with others (the side columns) folds to its title's height. A
        panel beside others in a row (the bottom area) folds to its title's width, so
        its neighbours keep their height. The other panels keep their sizes.
        """
        if collapsed == self.collapsed:
            return
        self.collapsed = collapsed
        window = self.parentWidget()
        docked = isinstance(window, QMainWindow) and not self.isFloating()
        before = {dock: dock.size() for dock in window.findChildren(Panel)  # type: ignore[union-attr]
                  if dock.isVisible() and not dock.isFloating()} if docked else {}
        # The body is squeezed to nothing rather than hidden: a dock whose widget is
        # hidden narrows its whole column to the title bar's width.
        body = self.widget()
        if collapsed:
            self._unfolded_size = QSize(max(self.width(), 160), max(self.height(), 120))
            self._folded_sideways = docked and self._shares_a_row(window)  # type: ignore[arg-type]
            if self._folded_sideways:
                if body is not None:
                    body.setMaximumWidth(0)
                self.setMaximumWidth(self.title_bar.minimumSizeHint().width() + 24)
            else:
                if body is not None:
                    body.setMaximumHeight(0)
                self.setMaximumHeight(self.title_bar.sizeHint().height() + 2)
        else:
            if body is not None:
                body.setMaximumSize(UNLIMITED, UNLIMITED)
            self.setMaximumSize(UNLIMITED, UNLIMITED)
        self.title_bar.show_collapsed(collapsed)
        if isinstance(window, QMainWindow) and docked:
            # after the window has laid out the new size limits, which moves the splitters
            QTimer.singleShot(0, lambda: self._settle(window, before))
        self.collapsedChanged.emit(collapsed)

    def _settle(self, window: QMainWindow, before: dict["Panel", QSize]) -> None:
        side_areas = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea)
        side = [dock for dock in before if window.dockWidgetArea(dock) in side_areas and dock.isVisible()]
        row = [dock for dock in before if window.dockWidgetArea(dock) not in side_areas and dock.isVisible()
               and not dock.collapsed and dock is not self]
        if side:
            window.resizeDocks(side, [before[dock].width() for dock in side], Qt.Orientation.Horizontal)
        if row:
            window.resizeDocks(row, [before[dock].height() for dock in row], Qt.Orientation.Vertical)
        if not self.collapsed:
            self._take_back_room(window)

    def _take_back_room(self, window: QMainWindow) -> None:
        """Unfolded: grow back to the old size, taking the room from the panels beside it
        (Qt only honours a resize when the neighbours' sizes come with it)."""
        sideways = self._folded_sideways
        orientation = Qt.Orientation.Horizontal if sideways else Qt.Orientation.Vertical

        def length(dock: Panel) -> int:
            return dock.width() if sideways else dock.height()

        wanted = self._unfolded_size.width() if sideways else self._unfolded_size.height()
        others = [dock for dock in self._neighbours(window) if not dock.collapsed]
        if not others:
            window.resizeDocks([self], [wanted], orientation)
            return
        gain = wanted - length(self)
        total = sum(length(dock) for dock in others) or 1
        sizes = [max(80, length(dock) - gain * length(dock) // total) for dock in others]
        window.resizeDocks([self, *others], [wanted, *sizes], orientation)

    def _neighbours(self, window: QMainWindow) -> list["Panel"]:
        area = window.dockWidgetArea(self)
        tabbed = set(window.tabifiedDockWidgets(self))
        return [dock for dock in window.findChildren(Panel)
                if dock is not self and not dock.isHidden() and not dock.isFloating()
                and window.dockWidgetArea(dock) == area and dock not in tabbed]

    def _shares_a_row(self, window: QMainWindow) -> bool:
        area = window.dockWidgetArea(self)
        if area not in (Qt.DockWidgetArea.TopDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea):
            return False
        return any(not dock.collapsed for dock in self._neighbours(window))

    def reveal(self) -> None:
        """Make sure the creator sees this panel: shown, unfolded and its tab on top."""
        self.show()
        self.set_collapsed(False)
        self.raise_()
