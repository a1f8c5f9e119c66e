"""Start the desktop app: settings, the chat database, the engine worker, the window."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psutil
from PySide6.QtCore import (
    QMessageLogContext,
    QMetaObject,
    QSettings,
    QSize,
    Qt,
    QTimer,
    QtMsgType,
    qInstallMessageHandler,
)
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from app.core.errors import AppError, DatabaseDamagedError, DatabaseLockedError, SaveError
from app.core.paths import app_paths
from app.core.salvage import salvage_database
from app.core.settings import load_settings
from app.core.store import ChatStore, MessageRow
from app.core.units import format_tokens
from app.gui.render import markdown
from app.gui.render.math import MathRenderer
from app.gui.services import Services
from app.gui.single_instance import SingleInstance
from app.gui.theme import apply_theme
from app.gui.viewmodels.api_server import ApiServerController
from app.gui.viewmodels.chat_controller import ChatController
from app.gui.views import database_notices
from app.gui.views.main_window import MainWindow
from app.gui.workers.engine_worker import EngineWorker
from app.inference.client import EngineClient
from app.inference.cpu_safety import CpuSafety
from app.inference.native import describe_variant
from app.inference.system import machine_snapshot
from app.modelhub.discovery import default_roots, discover
from app.server.models import ServedModels

# Must equal the .desktop file's name (without .desktop) and the AppStream component id: on
# Wayland it is the window's app id, which the desktop matches to the menu entry and icon.
DESKTOP_ID = "io.github.ponderapp.Ponder"
# resources/ sits beside the `app` package, in a checkout and in the frozen bundle alike.
ICONS_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

log = logging.getLogger(__name__)


@dataclass
class Session:
    """Everything the running app holds; ``close`` releases it in order."""

    window: MainWindow
    controller: ChatController
    worker: EngineWorker
    store: ChatStore

    def close(self) -> bool:
        """False when a thread would not stop in time (a download stuck in a request)."""
        if self.window.api is not None:
            self.window.api.stop()  # no new API request once quitting has begun
        self.controller.shutdown()  # saves a reply still streaming, before the engine stops
        stopped = self.window.shutdown()
        self.worker.shutdown()
        self.store.close()
        return stopped


def make_application(argv: list[str]) -> QApplication:
    app = QApplication(argv)
    app.setApplicationName("Ponder")
    app.setDesktopFileName(DESKTOP_ID)
    app.setWindowIcon(app_icon())
    return app


def app_icon() -> QIcon:
    """Ponder's icon from the pre-rendered PNGs (no SVG icon-engine plugin needed)."""
    icon = QIcon()
    for size in ICON_SIZES:
        path = ICONS_DIR / f"ponder-{size}.png"
        if path.exists():
            icon.addFile(str(path), QSize(size, size))
    if icon.isNull():
        log.warning("no app icon in %s", ICONS_DIR)
    return icon


def open_session(app: QApplication, *, welcome: bool = True) -> Session:
    """Load settings and chats, start the engine worker, build the window (not shown).
    ``welcome``: the first-run page while no model is chosen (the self-test goes without).

    Raises ``AppError`` when the chat database cannot be opened (``DatabaseLockedError``,
    ``DatabaseDamagedError``: the caller offers Retry or Salvage). A database that can be
    read but not written opens, marked in the status bar as not saving.
    """
    paths = app_paths().ensure()
    settings = load_settings(paths.settings_file)
    apply_theme(app, settings.theme, settings.font_size)
    store = ChatStore(paths.database)
    try:
        if recovered := store.recover_interrupted():
            log.info("%d interrupted replies recovered", recovered)
        store.purge_deleted()  # chats deleted last time (their undo has expired)
    except DatabaseDamagedError:
        store.close()
        raise
    except SaveError as exc:  # a full disk must not keep the chats from opening
        log.warning("start-up clean-up skipped: %s", exc.message)
    services = Services.build(paths, store)
    client = EngineClient(paths.engine_log, cpu_safety=CpuSafety(paths.cpu_safety))
    worker = EngineWorker(client, lease=services.lease)
    try:
        controller = ChatController(store, worker, settings)
        state = QSettings(str(paths.window_state), QSettings.Format.IniFormat)
        window = MainWindow(controller, services, math=MathRenderer(), state=state, welcome=welcome)
    except BaseException:
        # A read that fails now (a page damaged since the check) must not leave the engine
        # thread running: Qt would abort the process when it is destroyed.
        worker.shutdown()
        store.close()
        raise
    if store.unsaved is not None:
        database_notices.show_unsaved(window, controller, store.unsaved)
    models = services.models
    api = ApiServerController(
        worker,
        ServedModels(
            find=lambda: discover(
                default_roots(models_dir=models.models_dir, folders=models.folders())
            ),
            machine=machine_snapshot,
        ),
    )
    window.attach_api(api)
    api.apply(settings)
    # Code highlighting's imports happen now, in the background, not in the first answer.
    threading.Thread(target=markdown.warm_up, name="warm-up", daemon=True).start()
    return Session(window, controller, worker, store)


def settle_heap() -> None:
    """Once the app has started: what start-up built (modules, widgets, Qt wrappers) lives
    as long as the app, so it is kept out of the collector's full passes, which otherwise
    walk all of it and made the odd scroll step of a long chat take 80-90 ms (a pause of
    the whole GUI thread). The garbage start-up left is collected first."""
    gc.collect()
    gc.freeze()


def run_gui() -> int:
    app = make_application(sys.argv)
    # First: the dialogs before the window (another Ponder, the chats) close on SIGTERM too.
    quitting = _quit_on_signals(app)
    # Before the chats open: a second copy would mark this one's streaming reply interrupted.
    instance = SingleInstance(app_paths().ensure().data_dir, parent=app)
    if not instance.acquire() and (refused := _hand_over(instance)) is not None:
        return refused
    session = open_chats(app, quitting)
    if session is None:
        instance.release()
        return 1
    instance.activated.connect(session.window.bring_forward)
    settle_heap()
    _known_errors_to_status_bar(session.window)
    session.window.show()
    if session.store.unsaved is not None:
        _say(session.store.unsaved)
        database_notices.warn_unsaved(session.window, session.store.unsaved, app.quit)
    code = app.exec()
    return end_session(session, code, instance)


def open_chats(app: QApplication, quitting: Quitting) -> Session | None:
    """``open_session``, with the way out of each database fault offered in a dialog:
    Retry while another program holds the file, Salvage when it is damaged. None when the
    user gives up (or a SIGTERM closed the dialog)."""
    while not quitting.requested:
        try:
            return open_session(app)
        except DatabaseLockedError as exc:
            _say(exc)
            if not database_notices.ask_retry(exc):
                return None
        except DatabaseDamagedError as exc:
            _say(exc)
            if not database_notices.ask_salvage(exc) or quitting.requested:
                return None
            try:
                report = salvage_database(app_paths().database)
            except AppError as failed:
                _say(failed)
                database_notices.tell_refused(failed)
                return None
            log.info("%s", report.sentence())
            sys.stderr.write(f"ponder: {report.sentence()}\n")
            database_notices.tell_salvaged(report)
        except AppError as exc:
            _say(exc)
            database_notices.tell_refused(exc)
            return None
    return None


def _say(exc: AppError) -> None:
    """Also on stderr (a terminal, a desktop's session log) and in the log file."""
    log.warning("%s", exc.message)
    sys.stderr.write(f"ponder: {exc.message} {exc.hint}\n")


def _known_errors_to_status_bar(window: MainWindow) -> None:
    """An ``AppError`` raised in a slot (the chat database damaged under the running app)
    is a sentence for the user, not a bug: it goes to the status bar and the log."""
    report_bug = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if not isinstance(value, AppError):
            report_bug(kind, value, tb)
            return
        log.warning("%s %s", value.message, value.hint)
        sys.stderr.write(f"ponder: {value.message} {value.hint}\n")
        window.statusBar().showMessage(f"{value.message} {value.hint}", 30000)

    sys.excepthook = hook


def end_session(session: Session, code: int, instance: SingleInstance | None = None) -> int:
    """Close everything after the event loop ended; returns ``code`` (or exits with it)."""
    stopped = session.close()
    if instance is not None:
        instance.release()
    if not stopped:
        # Qt aborts the process when a running thread's object is destroyed at exit. The
        # chats are saved and closed, downloads keep their parts: leave without tearing down.
        log.warning("a download thread was still busy at quit; exiting without waiting")
        for child in psutil.Process().children(recursive=True):  # the math processes
            with contextlib.suppress(psutil.Error):
                child.kill()
        logging.shutdown()
        sys.stdout.flush()
        os._exit(code)
    return code


def _hand_over(instance: SingleInstance) -> int | None:
    """Ponder is already open on this data folder: bring its window forward and exit (the
    exit code), or, when it does not answer and the user says so, open anyway (None)."""
    if instance.notify_running():
        log.info("already running; asked it to show its window")
        sys.stderr.write("ponder: Ponder is already open; its window was brought forward.\n")
        return 0
    pid = instance.owner_pid()
    who = f"Another Ponder (process {pid})" if pid else "Another Ponder"
    text = (
        f"{who} is using the chats in {instance.data_dir} but is not responding. "
        "Wait a moment and start Ponder again, or end that process first."
    )
    log.warning("%s", text)
    sys.stderr.write(f"ponder: {text}\n")
    box = QMessageBox(QMessageBox.Icon.Warning, "Ponder is already open", text)
    box.setInformativeText(
        "If no other Ponder is open (its lock, "
        f"{instance.lock_path}, may be left by a computer that shares this folder), "
        "open anyway. Two copies at once can undo each other's changes to the chats."
    )
    anyway = box.addButton("Open anyway", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Close)
    box.exec()
    if box.clickedButton() is not anyway:
        return 1
    instance.take_over()
    return None


@dataclass
class Quitting:
    """Set once SIGTERM or SIGINT has asked Ponder to quit."""

    requested: bool = False


def _quit_on_signals(app: QApplication) -> Quitting:
    """SIGTERM (logout, `kill`, `timeout`) and Ctrl+C in a terminal close Ponder cleanly:
    the reply is stopped, the engine and math processes end, the database is closed. A
    dialog shown before the main window (the chats will not open) closes as if refused.

    Python runs signal handlers only when it gets control, which Qt's event loop never gives
    it on its own; a light timer hands it control four times a second.
    """
    quitting = Quitting()

    def quit_now() -> None:
        # Before app.exec() (the start-up dialogs run their own loops) quit() does nothing.
        for widget in app.topLevelWidgets():
            if isinstance(widget, QDialog) and widget.isVisible():
                widget.reject()
        app.quit()

    def on_signal(*_: object) -> None:
        quitting.requested = True
        # Queued, not called: a signal that arrives before the event loop runs must still
        # end it once it does (quit() on a loop not yet running does nothing).
        QTimer.singleShot(0, quit_now)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    wake = QTimer(app, interval=250)
    wake.timeout.connect(lambda: None)
    wake.start()
    return quitting


SELF_TEST_PROMPT = "Say hello in one short sentence."
SELF_TEST_TOKENS = 8  # a few tokens prove the engine runs; more only cost time
SELF_TEST_CTX = 512
# The offscreen platform says this for every window with a layout; it is not a fault, and the
# self-test's output should be its one line.
_OFFSCREEN_NOISE = "does not support propagateSizeHints"


@dataclass
class _SelfTestOutcome:
    row: MessageRow | None = None
    failure: str = ""


def run_self_test(model: Path, timeout_s: float) -> int:
    """Check that this installation works end to end, as a user would use it.

    The real window is built (offscreen when ``QT_QPA_PLATFORM=offscreen``), the model is
    chosen through the model picker (header check and fit), the prompt goes in through the
    composer, and the reply comes back from the engine child process. Prints one line and
    returns 0 when the model wrote at least one token, else 1 with the reason. The caller
    chooses where Ponder writes (``PONDER_HOME``), so a user's chats are not touched.
    """
    qInstallMessageHandler(_quiet_offscreen)
    app = make_application([sys.argv[0]])
    try:
        session = open_session(app, welcome=False)
    except AppError as exc:
        print(f"ponder: self-test failed: {exc}", file=sys.stderr)  # str() holds the hint
        return 1
    window, controller = session.window, session.controller
    # Greedy decoding: the same model gives the same reply every run, so a pass is repeatable.
    controller.set_settings(
        dataclasses.replace(
            controller.settings,
            max_tokens=SELF_TEST_TOKENS,
            n_ctx=SELF_TEST_CTX,
            temperature=0.0,
        )
    )
    outcome = _SelfTestOutcome()

    def quit_soon() -> None:
        # Queued: safe from any thread, and effective even before the event loop runs.
        QMetaObject.invokeMethod(app, "quit", Qt.ConnectionType.QueuedConnection)

    def fail(reason: str) -> None:
        if outcome.row is None and not outcome.failure:
            outcome.failure = reason
            quit_soon()

    report_bug = sys.excepthook

    def on_uncaught(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        # A bug in any part of the window fails the self-test now, not at the timeout.
        report_bug(kind, value, tb)
        first_line = next((ln for ln in str(value).splitlines() if ln.strip()), "")
        fail(f"unexpected error ({kind.__name__}: {first_line})".replace(": )", ")"))

    sys.excepthook = on_uncaught

    def send(_info: object) -> None:
        window.composer.set_text(SELF_TEST_PROMPT)
        window.composer.send_button.click()
        if not controller.busy:
            fail("the window did not send the message")

    def finished(row: MessageRow) -> None:
        outcome.row = row
        quit_soon()

    window.picker.model_chosen.connect(send)
    window.picker.check_failed.connect(lambda _path, message: fail(message))
    controller.reply_finished.connect(finished)
    QTimer.singleShot(round(timeout_s * 1000), lambda: fail(f"no reply within {timeout_s:g} s"))
    window.show()
    started = time.monotonic()
    window.picker.choose(model)
    app.exec()
    sys.excepthook = report_bug
    if outcome.row is None and controller.busy:
        controller.stop()
    session.close()
    return _self_test_report(model, outcome, time.monotonic() - started)


def _quiet_offscreen(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    if _OFFSCREEN_NOISE not in message:
        sys.stderr.write(f"{message}\n")


def _self_test_report(model: Path, outcome: _SelfTestOutcome, elapsed_s: float) -> int:
    row = outcome.row
    if row is None:
        print(f"ponder: self-test failed: {outcome.failure}", file=sys.stderr)
        return 1
    stats = row.stats or {}
    if row.state == "error":
        print(
            f"ponder: self-test failed: {stats.get('error')} {stats.get('hint')}", file=sys.stderr
        )
        return 1
    tokens = int(stats.get("reasoning_tokens", 0)) + int(stats.get("answer_tokens", 0))
    if tokens < 1:
        print(f"ponder: self-test failed: {model.name} wrote no tokens.", file=sys.stderr)
        return 1
    backend = stats.get("backend") or "llama.cpp"
    if kernels := stats.get("cpu_kernels"):
        backend += f", {describe_variant(kernels)} CPU code"
    print(
        f"ponder self-test passed: {model.name} wrote {format_tokens(tokens)} through the engine "
        f"process ({backend}) in {elapsed_s:.1f} s."
    )
    return 0
