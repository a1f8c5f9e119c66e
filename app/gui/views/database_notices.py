"""What Ponder says when its chat database will not open as it should.

Each fault gets its own sentence and the one way out that fits it: Retry when another
program holds the file (the file is fine: setting it aside would be wrong), Salvage when it
is damaged, and, when it cannot be written, the chats open anyway with a standing note in the
status bar that nothing new is saved. The dialogs at start-up are modal and run before the
main window exists; each returns the user's choice (a dialog closed by SIGTERM says no).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QWidget

from app.core.errors import AppError, DatabaseDamagedError, DatabaseLockedError, SaveError
from app.core.salvage import SalvageReport
from app.gui.theme import verdict_colour
from app.gui.viewmodels.chat_controller import ChatController


def ask_retry(exc: DatabaseLockedError) -> bool:
    """Another program holds the database: True when the user chooses Retry."""
    return _ask("Ponder's chats are in use", exc, "Retry")


def ask_salvage(exc: DatabaseDamagedError) -> bool:
    """The database is damaged: True when the user chooses to salvage it."""
    return _ask("Ponder's chats are damaged", exc, "Salvage")


def tell_salvaged(report: SalvageReport) -> None:
    box = QMessageBox(QMessageBox.Icon.Information, "Chats salvaged", report.sentence())
    box.setInformativeText("Ponder now opens the new database.")
    box.exec()


def tell_refused(exc: AppError) -> None:
    """The chats cannot be opened, and there is nothing to offer but the reason."""
    box = QMessageBox(QMessageBox.Icon.Critical, "Ponder cannot open its chats", exc.message)
    box.setInformativeText(exc.hint)
    box.exec()


UNSAVED_NOTICE = (
    "Not saved: the chat database cannot be written, so this chat is lost when Ponder closes."
)


class UnsavedLabel(QLabel):
    """A standing note in the status bar while the chat database cannot be written."""

    def __init__(self, exc: SaveError, parent: QWidget | None = None) -> None:
        super().__init__("Not saving chats", parent)
        self.setObjectName("unsavedLabel")
        self.setToolTip(f"{exc.message} {exc.hint}")
        self.setAccessibleName(f"Not saving chats. {exc.message}")
        # The theme's red (a "too large" verdict's), readable on light and dark alike.
        self.setStyleSheet(f"color: {verdict_colour('too_large')}; font-weight: bold;")


def show_unsaved(window: QMainWindow, controller: ChatController, exc: SaveError) -> None:
    """Mark the window as not saving, and say so again each time a reply ends (the status
    bar's own messages are cleared while a reply runs)."""
    window.statusBar().addPermanentWidget(UnsavedLabel(exc, window))
    controller.reply_finished.connect(
        lambda _row: window.statusBar().showMessage(UNSAVED_NOTICE, 15000)
    )


def warn_unsaved(window: QMainWindow, exc: SaveError, on_quit: Callable[[], None]) -> QMessageBox:
    """Say at start that nothing will be saved: a window-modal box that does not block,
    with Continue without saving and Quit (which calls ``on_quit``)."""
    box = QMessageBox(
        QMessageBox.Icon.Warning, "Ponder cannot save chats", exc.message, parent=window
    )
    box.setInformativeText(exc.hint)
    box.addButton("Continue without saving", QMessageBox.ButtonRole.AcceptRole)
    quit_button = box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.setEscapeButton(quit_button)
    box.buttonClicked.connect(lambda button: on_quit() if button is quit_button else None)
    box.open()
    return box


def _ask(title: str, exc: AppError, action: str) -> bool:
    box = QMessageBox(QMessageBox.Icon.Warning, title, exc.message)
    box.setInformativeText(exc.hint)
    chosen = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
    quit_button = box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(chosen)
    box.setEscapeButton(quit_button)
    box.exec()
    return box.clickedButton() is chosen
