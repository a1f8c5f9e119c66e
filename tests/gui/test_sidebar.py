"""The conversation sidebar over a real SQLite store: search, rename, delete and undo."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, Qt, QTimer
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QApplication, QLineEdit, QMenu, QToolButton, QWidget
from pytestqt.qtbot import QtBot

from app.core.store import ChatStore
from app.gui.viewmodels.conversation_list import ConversationListModel, date_section
from app.gui.views.sidebar import Sidebar

pytestmark = pytest.mark.gui


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChatStore]:
    s = ChatStore(tmp_path / "chats.db")
    yield s
    s.close()


@pytest.fixture
def ids(store: ChatStore) -> dict[str, int]:
    """Three conversations, created oldest first: "Tax questions" is the newest."""
    paris = store.create_conversation("Paris trip")
    store.add_message(paris, "user", "What should I see near the Eiffel Tower?")
    store.add_message(paris, "assistant", "The Champ de Mars and the Musée du quai Branly.")
    untitled = store.create_conversation()
    store.add_message(untitled, "user", "Prove that sqrt(2) is irrational.")
    tax = store.create_conversation("Tax questions")
    store.add_message(tax, "user", "How are capital gains taxed?")
    return {"paris": paris, "untitled": untitled, "tax": tax}


@pytest.fixture
def model(store: ChatStore, ids: dict[str, int]) -> ConversationListModel:
    return ConversationListModel(store)


@pytest.fixture
def window(qtbot: QtBot) -> QWidget:
    """A plain window to host the sidebar, as the app's window does.

    A top-level widget with a layout would make the offscreen platform warn that it cannot
    propagate size hints (and Qt warnings fail tests).
    """
    host = QWidget()
    qtbot.addWidget(host)
    return host


def make_sidebar(
    qtbot: QtBot, window: QWidget, model: ConversationListModel, **kwargs: int
) -> Sidebar:
    sidebar = Sidebar(model, window, **kwargs)
    sidebar.setGeometry(0, 0, 280, 420)
    window.resize(280, 420)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    return sidebar


@pytest.fixture
def sidebar(qtbot: QtBot, window: QWidget, model: ConversationListModel) -> Sidebar:
    return make_sidebar(qtbot, window, model, search_delay_ms=10)


def titles(model: ConversationListModel) -> list[str]:
    return [model.data(model.index(n)) for n in range(model.rowCount())]


def selected_ids(sidebar: Sidebar) -> list[int]:
    rows = sidebar.list_view.selectionModel().selectedRows()
    return [sidebar.model.conversation_id(index.row()) for index in rows]


def click_row(qtbot: QtBot, sidebar: Sidebar, cid: int) -> None:
    index = sidebar.model.index(sidebar.model.row_of(cid))
    rect = sidebar.list_view.visualRect(index)
    qtbot.mouseClick(sidebar.list_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def search(qtbot: QtBot, sidebar: Sidebar, text: str) -> None:
    sidebar.search.clear()
    qtbot.keyClicks(sidebar.search, text)
    qtbot.waitUntil(lambda: sidebar.model.query == text.strip())


# -- the model -------------------------------------------------------------------------


def test_model_passes_the_qt_model_tester_through_every_kind_of_change(
    qtmodeltester: object, model: ConversationListModel, store: ChatStore, ids: dict[str, int]
) -> None:
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    # The tester stays attached: each change below is checked as it happens.
    store.add_message(ids["paris"], "user", "And the Louvre?")
    model.touch(ids["paris"])
    model.set_query("tax")
    model.set_query("")
    model.delete(ids["untitled"])
    model.undelete(ids["untitled"])
    new = store.create_conversation("Fresh")
    model.touch(new)
    assert titles(model) == ["Fresh", "Paris trip", "Tax questions", "New chat"]


def test_newest_activity_first_with_a_name_for_untitled_chats(
    model: ConversationListModel, ids: dict[str, int]
) -> None:
    assert titles(model) == ["Tax questions", "New chat", "Paris trip"]
    top = model.index(0)
    assert model.data(top, ConversationListModel.IdRole) == ids["tax"]
    assert isinstance(model.data(top, ConversationListModel.UpdatedRole), float)
    tip = model.data(top, Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("Tax questions\nLast activity: ")
    assert model.row_of(ids["paris"]) == 2
    assert model.row_of(9999) == -1
    assert model.conversation_id(1) == ids["untitled"]


def test_a_title_saved_elsewhere_shows_after_a_refresh(
    qtbot: QtBot, model: ConversationListModel, store: ChatStore, ids: dict[str, int]
) -> None:
    store.rename(ids["untitled"], "Square roots")
    with qtbot.waitSignal(model.dataChanged) as changed:  # the view repaints that row only
        model.refresh()
    assert changed.args[0].row() == changed.args[1].row() == model.row_of(ids["untitled"])
    assert titles(model) == ["Tax questions", "Square roots", "Paris trip"]


def test_a_blank_rename_is_refused(
    qtbot: QtBot, model: ConversationListModel, store: ChatStore
) -> None:
    index = model.index(0)
    with qtbot.assertNotEmitted(model.dataChanged):
        assert not model.setData(index, "   ")
    assert model.data(index) == "Tax questions"
    with qtbot.waitSignal(model.dataChanged):  # the view repaints the new title
        assert model.setData(index, "  Taxes   in 2025 ")
    model.touch(model.conversation_id(0), title="  ")  # a blank automatic title erases nothing
    assert store.conversations()[0].title == "Taxes in 2025"


WORDS = ["", "plum", "pear", "fig"]
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["create", "message", "reply", "delete", "undelete", "query"]),
        st.integers(0, 7),
        st.sampled_from(WORDS),
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(steps=STEPS)
def test_every_change_keeps_the_rows_and_the_selection_in_step_with_the_store(
    qapp: QApplication, steps: list[tuple[str, int, str]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = ChatStore(Path(folder) / "chats.db")
        model = ConversationListModel(store)
        tester = QAbstractItemModelTester(
            model, QAbstractItemModelTester.FailureReportingMode.Warning
        )
        made: list[int] = []
        for op, k, word in steps:
            cid = made[k % len(made)] if made else 0
            # Remember where every row is: a reset or a wrong move would lose or swap them.
            before = {
                model.conversation_id(n): QPersistentModelIndex(model.index(n))
                for n in range(model.rowCount())
            }
            if op == "create":
                made.append(store.create_conversation(word))
                model.touch(made[-1])
            elif op == "message" and cid:
                store.add_message(cid, "user", f"about {word}")
                model.touch(cid)
            elif op == "reply" and cid:  # saved by someone else: the next refresh notices
                store.add_message(cid, "assistant", f"on {word}")
                model.refresh()
            elif op == "delete" and cid:
                model.delete(cid)
            elif op == "undelete" and cid:
                model.undelete(cid)
            elif op == "query":
                model.set_query(word)
            shown = [model.conversation_id(n) for n in range(model.rowCount())]
            assert shown == [c.id for c in store.conversations(model.query)]
            for cid_before, index in before.items():
                if cid_before in shown:
                    assert index.isValid() and model.conversation_id(index.row()) == cid_before
                else:
                    assert not index.isValid()
        del tester
        store.close()


# -- search ----------------------------------------------------------------------------


def test_search_matches_titles_and_message_text(
    qtbot: QtBot, sidebar: Sidebar, ids: dict[str, int]
) -> None:
    search(qtbot, sidebar, "tax")
    assert titles(sidebar.model) == ["Tax questions"]
    search(qtbot, sidebar, "eiffel")  # only in a message of "Paris trip"
    assert titles(sidebar.model) == ["Paris trip"]
    search(qtbot, sidebar, "irrational")  # the untitled chat, found by its content
    assert titles(sidebar.model) == ["New chat"]
    search(qtbot, sidebar, "no such words")
    assert sidebar.model.rowCount() == 0
    assert sidebar.list_view.empty_text() == "No chats match"
    assert sidebar.list_view.accessibleDescription() == "No chats match"
    qtbot.keyClick(sidebar.search, Qt.Key.Key_Escape)  # Escape clears the search
    assert sidebar.search.text() == ""
    qtbot.waitUntil(lambda: sidebar.model.rowCount() == 3)
    assert sidebar.list_view.empty_text() == ""


def test_an_empty_store_says_there_are_no_chats_yet(
    qtbot: QtBot, window: QWidget, store: ChatStore
) -> None:
    model = ConversationListModel(store)
    sidebar = make_sidebar(qtbot, window, model)
    assert sidebar.list_view.empty_text() == "No chats yet"
    cid = store.create_conversation("First")
    model.touch(cid)
    assert titles(model) == ["First"]
    assert sidebar.list_view.empty_text() == ""


def test_the_open_chat_is_highlighted_again_when_a_search_ends(
    qtbot: QtBot, sidebar: Sidebar, ids: dict[str, int]
) -> None:
    click_row(qtbot, sidebar, ids["paris"])
    with qtbot.assertNotEmitted(sidebar.conversation_selected):
        search(qtbot, sidebar, "tax")  # hides "Paris trip": nothing else gets opened
        assert selected_ids(sidebar) == []
        search(qtbot, sidebar, "")
    assert selected_ids(sidebar) == [ids["paris"]]


# -- selection -------------------------------------------------------------------------


def test_clicking_a_chat_selects_it_and_select_only_highlights(
    qtbot: QtBot, sidebar: Sidebar, ids: dict[str, int]
) -> None:
    with qtbot.waitSignal(sidebar.conversation_selected) as blocker:
        click_row(qtbot, sidebar, ids["paris"])
    assert blocker.args == [ids["paris"]]
    with qtbot.assertNotEmitted(sidebar.conversation_selected):
        sidebar.select(ids["tax"])
    assert selected_ids(sidebar) == [ids["tax"]]
    sidebar.select(-1)  # a new, unsaved chat: nothing highlighted
    assert selected_ids(sidebar) == []
    with qtbot.waitSignal(sidebar.conversation_selected) as blocker:
        click_row(qtbot, sidebar, ids["tax"])
    assert blocker.args == [ids["tax"]]


def test_arrow_keys_move_the_selection(qtbot: QtBot, sidebar: Sidebar, ids: dict[str, int]) -> None:
    click_row(qtbot, sidebar, ids["tax"])
    with qtbot.waitSignal(sidebar.conversation_selected) as blocker:
        qtbot.keyClick(sidebar.list_view, Qt.Key.Key_Down)
    assert blocker.args == [ids["untitled"]]


def test_touch_moves_a_chat_to_the_top_and_the_selection_follows_it(
    qtbot: QtBot, sidebar: Sidebar, store: ChatStore, ids: dict[str, int]
) -> None:
    click_row(qtbot, sidebar, ids["untitled"])
    with qtbot.assertNotEmitted(sidebar.conversation_selected):
        store.add_message(ids["paris"], "user", "And the Louvre?")
        sidebar.model.touch(ids["paris"])
        assert titles(sidebar.model) == ["Paris trip", "Tax questions", "New chat"]
        assert selected_ids(sidebar) == [ids["untitled"]]
        store.add_message(ids["untitled"], "assistant", "Suppose sqrt(2) = p/q.")
        with qtbot.waitSignal(sidebar.model.dataChanged):
            sidebar.model.touch(ids["untitled"], title="Irrationality of sqrt(2)")
    assert titles(sidebar.model) == ["Irrationality of sqrt(2)", "Paris trip", "Tax questions"]
    assert selected_ids(sidebar) == [ids["untitled"]]
    assert store.conversation(ids["untitled"]).title == "Irrationality of sqrt(2)"  # type: ignore[union-attr]


# -- rename ----------------------------------------------------------------------------


def _type_into_editor(qtbot: QtBot, text: str) -> None:
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit))
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    assert editor.accessibleName() == "Chat title"
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not isinstance(QApplication.focusWidget(), QLineEdit))


def test_f2_renames_inline_and_the_title_is_saved(
    qtbot: QtBot, sidebar: Sidebar, store: ChatStore, ids: dict[str, int]
) -> None:
    click_row(qtbot, sidebar, ids["untitled"])
    qtbot.keyClick(sidebar.list_view, Qt.Key.Key_F2)
    _type_into_editor(qtbot, "Square roots")
    assert store.conversation(ids["untitled"]).title == "Square roots"  # type: ignore[union-attr]
    assert titles(sidebar.model) == ["Tax questions", "Square roots", "Paris trip"]
    assert selected_ids(sidebar) == [ids["untitled"]]


def test_double_click_and_the_context_menu_also_rename(
    qtbot: QtBot, sidebar: Sidebar, store: ChatStore, ids: dict[str, int]
) -> None:
    index = sidebar.model.index(sidebar.model.row_of(ids["paris"]))
    center = sidebar.list_view.visualRect(index).center()
    qtbot.mouseClick(sidebar.list_view.viewport(), Qt.MouseButton.LeftButton, pos=center)
    qtbot.mouseDClick(sidebar.list_view.viewport(), Qt.MouseButton.LeftButton, pos=center)
    _type_into_editor(qtbot, "Weekend in Paris")
    assert store.conversation(ids["paris"]).title == "Weekend in Paris"  # type: ignore[union-attr]

    menu = sidebar.context_menu(ids["tax"])
    assert [a.text() for a in menu.actions() if a.text()] == ["Rename", "Export…", "Delete"]
    next(a for a in menu.actions() if a.text() == "Rename").trigger()
    _type_into_editor(qtbot, "Capital gains")
    assert store.conversation(ids["tax"]).title == "Capital gains"  # type: ignore[union-attr]


# A popup menu asks the offscreen platform for things it cannot do; that is not our warning.
@pytest.mark.qt_log_ignore(r"This plugin does not support (raise\(\)|grabbing the keyboard)")
@pytest.mark.parametrize("reason", ["mouse", "keyboard"])
def test_right_click_or_the_menu_key_acts_on_that_chat(
    qtbot: QtBot, sidebar: Sidebar, ids: dict[str, int], reason: str
) -> None:
    seen: list[str] = []

    def choose_delete() -> None:
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu)
        try:
            seen.extend(a.text() for a in menu.actions() if a.text())
            next(a for a in menu.actions() if a.text() == "Delete").trigger()
        finally:
            menu.close()

    view = sidebar.list_view
    index = sidebar.model.index(sidebar.model.row_of(ids["paris"]))
    center = view.visualRect(index).center()
    if reason == "keyboard":  # the menu key acts on the current row, wherever the mouse is
        view.setCurrentIndex(index)
        event = QContextMenuEvent(
            QContextMenuEvent.Reason.Keyboard,
            QPoint(1, 1),
            view.viewport().mapToGlobal(QPoint(1, 1)),
        )
    else:
        event = QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, center, view.viewport().mapToGlobal(center)
        )
    QTimer.singleShot(0, choose_delete)
    with qtbot.waitSignal(sidebar.conversation_deleted) as blocker:
        QApplication.sendEvent(view.viewport(), event)
    assert seen == ["Rename", "Export…", "Delete"]
    assert blocker.args == [ids["paris"]]


def test_export_from_the_context_menu_asks_the_window(
    qtbot: QtBot, sidebar: Sidebar, ids: dict[str, int]
) -> None:
    menu = sidebar.context_menu(ids["paris"])
    with qtbot.waitSignal(sidebar.export_requested) as blocker:
        next(a for a in menu.actions() if a.text() == "Export…").trigger()
    assert blocker.args == [ids["paris"]]


# -- delete and undo -------------------------------------------------------------------


def test_delete_key_deletes_at_once_and_undo_brings_it_back_with_its_messages(
    qtbot: QtBot, sidebar: Sidebar, store: ChatStore, ids: dict[str, int]
) -> None:
    click_row(qtbot, sidebar, ids["paris"])
    # The neighbour is not opened in its place: the window shows no chat until the user picks.
    with (
        qtbot.assertNotEmitted(sidebar.conversation_selected),
        qtbot.waitSignal(sidebar.conversation_deleted) as deleted,
    ):
        qtbot.keyClick(sidebar.list_view, Qt.Key.Key_Delete)
    assert deleted.args == [ids["paris"]]
    assert selected_ids(sidebar) == []
    assert titles(sidebar.model) == ["Tax questions", "New chat"]
    assert ids["paris"] not in [c.id for c in store.conversations()]
    assert sidebar.undo_bar.isVisible()
    assert sidebar.undo_bar.message.full_text() == "Deleted “Paris trip”."

    with qtbot.waitSignal(sidebar.conversation_restored) as restored:
        qtbot.mouseClick(sidebar.undo_bar.undo_button, Qt.MouseButton.LeftButton)
    assert restored.args == [ids["paris"]]
    assert not sidebar.undo_bar.isVisible()
    assert titles(sidebar.model) == ["Tax questions", "New chat", "Paris trip"]
    assert selected_ids(sidebar) == [ids["paris"]]
    assert [m.content for m in store.messages(ids["paris"])] == [
        "What should I see near the Eiffel Tower?",
        "The Champ de Mars and the Musée du quai Branly.",
    ]


def test_ctrl_z_undoes_a_delete_from_the_context_menu(
    qtbot: QtBot, sidebar: Sidebar, store: ChatStore, ids: dict[str, int]
) -> None:
    menu = sidebar.context_menu(ids["untitled"])
    next(a for a in menu.actions() if a.text() == "Delete").trigger()
    assert sidebar.undo_bar.message.full_text() == "Deleted “New chat”."
    sidebar.list_view.setFocus()
    with qtbot.waitSignal(sidebar.conversation_restored):
        qtbot.keyClick(sidebar.list_view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert ids["untitled"] in [c.id for c in store.conversations()]


def test_when_the_undo_bar_expires_the_deletion_stays(
    qtbot: QtBot,
    window: QWidget,
    model: ConversationListModel,
    store: ChatStore,
    ids: dict[str, int],
) -> None:
    sidebar = make_sidebar(qtbot, window, model, undo_timeout_ms=30)
    sidebar.select(ids["tax"])
    sidebar.list_view.setFocus()
    with qtbot.waitSignal(sidebar.conversation_deleted):
        qtbot.keyClick(sidebar.list_view, Qt.Key.Key_Delete)
    assert sidebar.undo_bar.message.full_text() == "Deleted “Tax questions”."
    qtbot.waitUntil(lambda: not sidebar.undo_bar.isVisible())
    with qtbot.assertNotEmitted(sidebar.conversation_restored):
        sidebar.undo()
    assert titles(model) == ["New chat", "Paris trip"]
    assert [c.id for c in store.conversations()] == [ids["untitled"], ids["paris"]]
    model.refresh()
    assert model.row_of(ids["tax"]) == -1


def test_delete_with_nothing_selected_does_nothing(
    qtbot: QtBot, sidebar: Sidebar, ids: dict[str, int]
) -> None:
    sidebar.list_view.setFocus()
    sidebar.list_view.setCurrentIndex(QModelIndex())
    with qtbot.assertNotEmitted(sidebar.conversation_deleted):
        qtbot.keyClick(sidebar.list_view, Qt.Key.Key_Delete)
    assert sidebar.model.rowCount() == 3
    assert not sidebar.undo_bar.isVisible()


# -- keyboard and accessibility --------------------------------------------------------


def test_the_new_chat_button_asks_the_window(qtbot: QtBot, sidebar: Sidebar) -> None:
    with qtbot.waitSignal(sidebar.new_requested):
        qtbot.mouseClick(sidebar.new_button, Qt.MouseButton.LeftButton)


def test_focus_search_and_tab_order_new_chat_search_list(
    qtbot: QtBot, sidebar: Sidebar, ids: dict[str, int]
) -> None:
    sidebar.search.setText("tax")
    sidebar.focus_search()  # Ctrl+F in the window
    assert sidebar.search.hasFocus()
    qtbot.keyClicks(sidebar.search, "paris")  # the old query is selected: typing replaces it
    assert sidebar.search.text() == "paris"
    qtbot.waitUntil(lambda: titles(sidebar.model) == ["Paris trip"])
    qtbot.keyClick(sidebar.search, Qt.Key.Key_Down)  # Down walks from the search into the list
    assert sidebar.list_view.hasFocus()
    with qtbot.waitSignal(sidebar.conversation_selected) as blocker:
        qtbot.keyClick(sidebar.list_view, Qt.Key.Key_Space)
    assert blocker.args == [ids["paris"]]

    sidebar.new_button.setFocus()
    qtbot.keyClick(sidebar.new_button, Qt.Key.Key_Tab)
    assert sidebar.search.hasFocus()
    qtbot.keyClick(sidebar.search, Qt.Key.Key_Tab)
    assert sidebar.list_view.hasFocus()


def test_every_control_has_an_accessible_name(sidebar: Sidebar) -> None:
    controls = [
        sidebar.new_button,
        sidebar.search,
        sidebar.list_view,
        sidebar.undo_bar,
        sidebar.undo_bar.undo_button,
    ]
    assert all(c.accessibleName() for c in controls)
    assert sidebar.search.placeholderText() == "Search chats"
    assert sidebar.search.isClearButtonEnabled()


# -- date sections ---------------------------------------------------------------------

TODAY = date(2026, 11, 20)


def at(day: date, hour: int = 12) -> float:
    return datetime.combine(day, time(hour)).timestamp()


def dated(store: ChatStore, title: str, when: float) -> int:
    cid = store.create_conversation(title)
    store.add_message(cid, "user", f"About {title.lower()}")
    with store.transaction():
        store.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (when, cid))
    return cid


@pytest.fixture
def calendar(tmp_path: Path) -> Iterator[tuple[ChatStore, dict[str, int]]]:
    """Chats last used across a year, seen on 20 November 2026."""
    store = ChatStore(tmp_path / "dated.db")
    ids = {
        "kyoto": dated(store, "Kyoto trip", at(TODAY, 9)),
        "sky": dated(store, "Why is the sky blue?", at(TODAY, 8)),
        "tax": dated(store, "Tax questions", at(TODAY - timedelta(days=1), 23)),
        "regex": dated(store, "Regex for dates", at(TODAY - timedelta(days=5))),
        "bread": dated(store, "Sourdough bread", at(TODAY - timedelta(days=18))),
        "poem": dated(store, "Birthday poem", at(date(2026, 10, 12))),
        "paper": dated(store, "Attention paper", at(date(2026, 10, 3))),
        "old": dated(store, "Old notes", at(date(2025, 12, 24))),
    }
    yield store, ids
    store.close()


SECTIONS = [
    "Today",
    "Yesterday",
    "Previous 7 days",
    "Previous 30 days",
    "October 2026",
    "December 2025",
]


def test_date_sections_count_back_from_today() -> None:
    assert date_section(at(TODAY, 0), TODAY) == "Today"
    assert date_section(at(TODAY + timedelta(days=2)), TODAY) == "Today"  # clock set back
    assert date_section(at(TODAY - timedelta(days=1), 23), TODAY) == "Yesterday"
    assert date_section(at(TODAY - timedelta(days=2)), TODAY) == "Previous 7 days"
    assert date_section(at(TODAY - timedelta(days=7)), TODAY) == "Previous 7 days"
    assert date_section(at(TODAY - timedelta(days=8)), TODAY) == "Previous 30 days"
    assert date_section(at(TODAY - timedelta(days=30)), TODAY) == "Previous 30 days"
    assert date_section(at(TODAY - timedelta(days=31)), TODAY) == "October 2026"
    assert date_section(at(date(2024, 2, 29)), TODAY) == "February 2024"


def test_each_chat_knows_its_section_and_which_chats_start_one(
    calendar: tuple[ChatStore, dict[str, int]],
) -> None:
    store, _ = calendar
    model = ConversationListModel(store, today=lambda: TODAY)
    rows = range(model.rowCount())
    assert [model.section(n) for n in rows] == [
        "Today", "Today", "Yesterday", "Previous 7 days", "Previous 30 days",
        "October 2026", "October 2026", "December 2025",
    ]  # fmt: skip
    assert [model.starts_section(n) for n in rows] == [
        True, False, True, True, True, True, False, True,
    ]  # fmt: skip
    index = model.index(2)  # a screen reader hears the section with the title
    assert model.data(index, Qt.ItemDataRole.AccessibleDescriptionRole) == "Yesterday"
    assert model.data(index, ConversationListModel.SectionRole) == "Yesterday"


def grouped_sidebar(
    qtbot: QtBot, window: QWidget, store: ChatStore, today: Callable[[], date] = lambda: TODAY
) -> Sidebar:
    sidebar = make_sidebar(
        qtbot, window, ConversationListModel(store, today=today), search_delay_ms=10
    )
    sidebar.setGeometry(0, 0, 280, 600)
    window.resize(280, 600)
    qtbot.waitUntil(lambda: bool(sidebar.list_view.sections()))
    return sidebar


def shown_sections(sidebar: Sidebar) -> list[str]:
    sidebar.list_view.doItemsLayout()  # what the next paint shows
    return [label for label, _ in sidebar.list_view.sections()]


def test_the_list_shows_a_heading_above_each_date_section(
    qtbot: QtBot, window: QWidget, calendar: tuple[ChatStore, dict[str, int]]
) -> None:
    store, ids = calendar
    sidebar = grouped_sidebar(qtbot, window, store)
    view = sidebar.list_view
    assert shown_sections(sidebar) == SECTIONS
    image = view.viewport().grab().toImage()
    background = image.pixelColor(2, 2)
    first_of = {"Today": "kyoto", "Yesterday": "tax", "Previous 7 days": "regex"}
    for label, band in view.sections()[:3]:
        # The heading sits right above its section's first chat, and its text is drawn.
        row = view.visualRect(sidebar.model.index(sidebar.model.row_of(ids[first_of[label]])))
        assert band.top() == row.top() and band.height() < row.height()
        assert view.indexAt(band.center()) == QModelIndex()  # no chat under a heading
        inked = sum(
            image.pixelColor(x, y) != background
            for x in range(band.left(), band.right())
            for y in range(band.top(), band.bottom())
        )
        assert inked > 20, label
    # Rows under one heading have none between them: "Why is the sky blue?" has no band.
    sky = sidebar.model.index(sidebar.model.row_of(ids["sky"]))
    assert view.rows.heading_height(sky) == 0


def test_a_heading_cannot_be_selected_and_the_keys_step_over_it(
    qtbot: QtBot, window: QWidget, calendar: tuple[ChatStore, dict[str, int]]
) -> None:
    store, ids = calendar
    sidebar = grouped_sidebar(qtbot, window, store)
    view = sidebar.list_view
    _, yesterday = view.sections()[1]
    with qtbot.assertNotEmitted(sidebar.conversation_selected):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=yesterday.center())
    assert selected_ids(sidebar) == []
    click_row(qtbot, sidebar, ids["sky"])  # the last chat of today
    with qtbot.waitSignal(sidebar.conversation_selected) as blocker:
        qtbot.keyClick(view, Qt.Key.Key_Down)
    assert blocker.args == [ids["tax"]]  # yesterday's first chat, not its heading
    with qtbot.waitSignal(sidebar.conversation_selected) as blocker:
        qtbot.keyClick(view, Qt.Key.Key_Up)
    assert blocker.args == [ids["sky"]]


def test_search_results_and_undo_keep_their_sections(
    qtbot: QtBot, window: QWidget, calendar: tuple[ChatStore, dict[str, int]]
) -> None:
    store, ids = calendar
    sidebar = grouped_sidebar(qtbot, window, store)
    search(qtbot, sidebar, "ion")
    assert titles(sidebar.model) == ["Tax questions", "Attention paper"]
    assert shown_sections(sidebar) == ["Yesterday", "October 2026"]
    search(qtbot, sidebar, "")
    assert shown_sections(sidebar) == SECTIONS
    sidebar.delete(ids["tax"])  # yesterday's only chat: its heading goes with it
    assert shown_sections(sidebar) == [s for s in SECTIONS if s != "Yesterday"]
    sidebar.undo()
    assert shown_sections(sidebar) == SECTIONS
    assert selected_ids(sidebar) == [ids["tax"]]


def test_a_chat_used_again_moves_to_today_and_midnight_regroups(
    qtbot: QtBot, window: QWidget, calendar: tuple[ChatStore, dict[str, int]]
) -> None:
    store, ids = calendar
    day = [TODAY]
    sidebar = grouped_sidebar(qtbot, window, store, today=lambda: day[0])
    store.add_message(ids["old"], "user", "One more thing")
    with store.transaction():
        store.db.execute(
            "UPDATE conversations SET updated_at = ? WHERE id = ?", (at(TODAY, 10), ids["old"])
        )
    sidebar.model.touch(ids["old"])
    assert titles(sidebar.model)[0] == "Old notes"
    assert shown_sections(sidebar) == SECTIONS[:-1]  # December 2025 had only that chat
    day[0] = TODAY + timedelta(days=1)
    sidebar._on_new_day()  # what the timer does at midnight
    assert shown_sections(sidebar) == [
        "Yesterday", "Previous 7 days", "Previous 30 days", "October 2026",
    ]  # fmt: skip


def test_new_chat_and_search_have_icons_beside_their_words(sidebar: Sidebar) -> None:
    assert not sidebar.new_button.icon().isNull()
    assert sidebar.new_button.text() == "New chat"
    leading = [a for a in sidebar.search.actions() if not a.icon().isNull()]
    assert leading  # the magnifier before "Search chats"
    named = [b.accessibleName() for b in sidebar.search.findChildren(QToolButton)]
    assert "Search chats" in named


def test_the_buttons_the_field_and_the_highlight_share_one_edge_and_rows_are_roomy(
    qtbot: QtBot, sidebar: Sidebar, ids: dict[str, int]
) -> None:
    sidebar.select(ids["untitled"])
    text_height = sidebar.fontMetrics().height()
    row = sidebar.list_view.visualRect(sidebar.model.index(1))  # under the same heading
    assert row.height() >= text_height + 16
    assert sidebar.new_button.height() >= text_height + 12
    assert sidebar.search.height() == sidebar.new_button.height()
    image = sidebar.grab().toImage()
    y = sidebar.list_view.viewport().mapTo(sidebar, row.center()).y()
    background = image.pixelColor(1, y)
    lit = [x for x in range(sidebar.width() // 2) if image.pixelColor(x, y) != background]
    left = sidebar.new_button.geometry().left()
    assert sidebar.search.geometry().left() == left
    assert abs(lit[0] - left) <= 1  # the highlight starts where the button does
