"""The chat's brain on the GUI thread: what is sent, what is saved, what the views show.

The controller owns the open conversation's rows and the one live reply. Every user message
is saved before it is sent; the reply is saved when it starts and checkpointed every
``CHECKPOINT_MS`` while it streams, so a crash of the app or the engine loses at most that
much, and quitting mid-reply loses nothing (``shutdown`` saves it). A write the database
refuses (a full disk) is reported once and retried until it succeeds; the reply stays on
screen meanwhile. Deltas from the engine worker are forwarded to the views untouched:
they buffer them and repaint on their own clock (the controller does no per-token work that
grows).

A "Think N ways" reply (``send(text, samples=N)``) streams N samples at once; each sample's
text goes to the views tagged with its index, and the saved reply keeps every sample in
its stats (``app.core.group_reply``) with the chosen sample's answer as its content, so
the history carries one answer. ``use_sample`` and ``vote_sample`` change a saved group.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.conversation import conversation_from_turns, make_title
from app.core.errors import SaveError
from app.core.events import GenerationStats, LiveStats
from app.core.group_reply import GroupReply, LiveGroup
from app.core.settings import Settings
from app.core.store import ChatStore, MessageRow, MessageState
from app.gui.viewmodels.live_reply import LiveReply
from app.gui.viewmodels.model_choice import ChatRoute, ModelChoice
from app.gui.viewmodels.pending_saves import PendingSaves
from app.gui.workers.engine_worker import EngineWorker
from app.inference.protocol import (
    ModelSpec,
    SamplingParams,
)

log = logging.getLogger(__name__)

CHECKPOINT_MS = 2000
RETRY_SAVE_MS = 5000


class ChatController(QObject):
    """Sends messages, streams replies into the store and the views. GUI thread only.

    Signals:
        conversation_opened(int, list): conversation id (0: a new, unsaved chat) and its rows.
        message_added(object): a new ``MessageRow`` (the user's, or the reply starting).
        messages_removed(int): rows after this position were removed (edit, regenerate).
        reasoning(str) / answer(str): live text for the shown conversation's reply.
        sample_reasoning(int, str) / sample_answer(int, str): live text of one sample of
            the shown conversation's group reply (its index, the text).
        sample_progress(object): ``LiveStats`` of one sample of that group.
        sample_finished(int, object): that sample ended (its ``GenerationStats``).
        live(object): ``LiveStats`` of the live reply (a group's: all samples together).
        reply_finished(object): the reply's final ``MessageRow``.
        reply_changed(object): a saved reply changed (another of its versions or another
            sample of its group became the reply, or a vote); its new ``MessageRow``.
        busy_changed(bool): a reply is (not) being generated.
        conversation_touched(int, str): a conversation got a message or a title.
        notice(str): a one-line message for the status bar.
        reply_failed(str): the reply failed (the model refused to load, the engine
            crashed...): the sentence and what to do, to show until the user has read it.
        engine_silent(float): the engine has not moved for this many seconds during the
            live reply (0.0: it moves again, or the reply ended).
    """

    conversation_opened = Signal(int, list)
    message_added = Signal(object)
    messages_removed = Signal(int)
    reasoning = Signal(str)
    answer = Signal(str)
    sample_reasoning = Signal(int, str)
    sample_answer = Signal(int, str)
    sample_progress = Signal(object)
    sample_finished = Signal(int, object)
    live = Signal(object)
    reply_finished = Signal(object)
    reply_changed = Signal(object)
    busy_changed = Signal(bool)
    conversation_touched = Signal(int, str)
    notice = Signal(str)
    reply_failed = Signal(str)
    engine_silent = Signal(float)

    def __init__(
        self,
        store: ChatStore,
        worker: EngineWorker,
        settings: Settings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.worker = worker
        self.settings = settings
        self.model: ModelChoice | None = None
        self.route = ChatRoute()
        self.cid = 0
        self.rows: list[MessageRow] = []
        self._live: LiveReply | None = None
        self._checkpoint = QTimer(self, interval=CHECKPOINT_MS)
        self._checkpoint.timeout.connect(self._save_checkpoint)
        # Finished replies the database refused (message id -> finish_message's arguments).
        # Finished replies the database refused: kept and saved when it takes them.
        self._pending = PendingSaves(store, RETRY_SAVE_MS, self)
        worker.reasoning.connect(self._on_reasoning)
        worker.answer.connect(self._on_answer)
        worker.progress.connect(self._on_progress)
        worker.sample_reasoning.connect(self._on_sample_reasoning)
        worker.sample_answer.connect(self._on_sample_answer)
        worker.sample_done.connect(self._on_sample_done)
        worker.reply_done.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.silence.connect(self._on_silence)
        worker.waiting.connect(self.notice)  # "An API client is using the model; ..."

    # -- state --------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._live is not None

    @property
    def live_in_view(self) -> bool:
        return self._live is not None and self._live.cid == self.cid and self.cid != 0

    @property
    def live_samples(self) -> int:
        """How many ways the live reply thinks (1: a single reply, or none running)."""
        return self._live.group.asked if self._live is not None and self._live.group else 1

    def set_model(self, model: ModelChoice | None) -> None:
        self.model = model

    def set_settings(self, settings: Settings) -> None:
        self.settings = settings

    def set_route(self, route: ChatRoute) -> None:
        """Send the next message pooled, through a server, or (the default) here."""
        self.route = route

    def _target(self) -> tuple[str, ModelSpec]:
        """The name the reply is saved under and what the engine runs (a replay, for
        tests and screenshots, runs as recorded whatever the route)."""
        if self.route.server is not None and not (self.model and self.model.is_replay):
            return self.route.model_name, self.route.server
        assert self.model is not None
        return self.model.name, self.model.spec(self.settings, self.route)

    # -- conversations ------------------------------------------------------------------

    def new_conversation(self) -> None:
        """Show an empty chat; it is saved when its first message is sent."""
        self.cid, self.rows = 0, []
        self.conversation_opened.emit(0, [])

    def open_conversation(self, cid: int) -> None:
        if self.store.conversation(cid) is None:
            self.notice.emit("That chat no longer exists.")
            self.new_conversation()
            return
        self.cid = cid
        self.rows = self.store.messages(cid)
        if self._live is not None and self._live.cid == cid:
            # The store holds the last checkpoint; the view needs everything so far.
            content, reasoning, group = self._live.saved_form()
            self.rows[-1] = dataclasses.replace(
                self.rows[-1],
                content=content,
                reasoning=reasoning,
                state="streaming",
                stats=group.reply_stats({}) if group is not None else None,
            )
        self.conversation_opened.emit(cid, list(self.rows))

    def forget(self, cid: int) -> None:
        """The conversation was deleted: stop its reply, and leave it if it is open."""
        if self._live is not None and self._live.cid == cid:
            self.stop()
        if cid == self.cid:
            self.new_conversation()

    def shutdown(self) -> None:
        """The app is quitting: save the live reply as it stands (marked interrupted) and
        anything the database refused earlier. Call before the engine worker stops."""
        if self._live is not None:
            self._end_reply("interrupted", {"stop_reason": "stopped"})
        self._pending.flush()

    # -- sending ------------------------------------------------------------------------

    def send(self, text: str, samples: int = 1) -> bool:
        """Save the user's message and start the reply (``samples > 1``: think that many
        ways). False (with a notice) if it cannot."""
        text = text.strip()
        if not text:
            return False
        if not self._ready_to_send():
            return False
        try:
            if self.cid == 0:
                self.cid = self.store.create_conversation(
                    title=make_title(text),
                    model=self._target()[0],
                    system=self.settings.system_prompt,
                )
                self.conversation_opened.emit(self.cid, [])
            self._append_row(self.store.add_message(self.cid, "user", text))
        except SaveError as exc:
            self._refused(exc, "Your message was not sent")
            return False
        return self._start_reply(samples=samples)

    def regenerate(self) -> bool:
        """Answer the last question again, as many ways as the old reply was asked to
        think; the old reply stays as an earlier version ("< 1/2 >")."""
        last_user = self._last_user_position()
        if last_user is None or not self._ready_to_send():
            return False
        old = next((r for r in self.rows if r.position > last_user), None)
        group = GroupReply.from_stats(old.stats) if old is not None else None
        return self._start_reply(
            replace_after=last_user, samples=group.asked if group else 1, keep_versions=True
        )

    def show_version(self, mid: int, ordinal: int) -> None:
        """Show version ``ordinal`` of reply ``mid``: from now on it is the reply the
        conversation history carries (the other versions stay with it)."""
        at = next((i for i, r in enumerate(self.rows) if r.id == mid), None)
        if at is None:
            return
        if self._live is not None:  # the history is in use
            self.notice.emit("Wait for the reply to finish, or stop it (Esc).")
            return
        self._pending.flush()
        if self._pending.waiting(mid):  # its last version is not saved yet: keep it whole
            self.notice.emit("This reply is not saved yet; its versions can be shown once it is.")
            return
        try:
            self.store.show_version(mid, ordinal)
            changed = self.store.message(mid)
        except SaveError as exc:
            self._refused(exc, "That version was not shown")
            return
        if changed is not None:
            self.rows[at] = changed
            self.reply_changed.emit(changed)

    def edit_and_resend(self, position: int, text: str) -> bool:
        """Replace the question at ``position`` and everything after it, then answer it."""
        text = text.strip()
        if not text or not self._ready_to_send():
            return False
        if not any(r.position == position and r.role == "user" for r in self.rows):
            return False
        try:
            # One transaction: if the edit cannot be saved, nothing is removed either.
            mid = self.store.add_message(self.cid, "user", text, replace_after=position - 1)
        except SaveError as exc:
            self._refused(exc, "Your edit was not sent")
            return False
        self._drop_rows_after(position - 1)
        self._append_row(mid)
        return self._start_reply()

    def stop(self) -> None:
        if self._live is not None:
            self.worker.stop()

    def answer_now(self) -> None:
        if self._live is not None:
            self.worker.answer_now()

    def use_sample(self, mid: int, sample: int) -> None:
        """Make a sample of the group reply ``mid`` the reply: from now on its answer is
        the one the conversation history carries (the other samples stay with it)."""
        self._change_group(mid, lambda group: group.choose(sample))

    def vote_sample(self, mid: int, sample: int, vote: bool | None) -> None:
        """Thumbs up (True) or down (False) for a sample of the group reply ``mid``, or
        the vote withdrawn (None); it overrides the sample's reward."""
        self._change_group(mid, lambda group: group.vote(sample, vote))

    def _change_group(self, mid: int, change: Callable[[GroupReply], GroupReply]) -> None:
        at = next((i for i, r in enumerate(self.rows) if r.id == mid), None)
        if at is None or (self._live is not None and self._live.mid == mid):
            return  # not shown, or still streaming
        row = self.rows[at]
        group = GroupReply.from_stats(row.stats)
        if group is None:
            return
        changed = change(group)
        stats = changed.reply_stats(row.stats or {})
        content, reasoning = changed.reply.answer, changed.reply.reasoning
        try:
            self.store.finish_message(mid, content, reasoning, row.state, stats)
        except SaveError as exc:
            self._refused(exc, "The change was not saved")
            return
        self._pending.drop(mid)  # an older version waiting to be saved is out of date
        self.rows[at] = changed_row = dataclasses.replace(
            row, content=content, reasoning=reasoning, stats=stats
        )
        self.reply_changed.emit(changed_row)

    def later_messages(self, position: int) -> int:
        """How many messages an edit at ``position`` would replace."""
        return sum(1 for r in self.rows if r.position > position)

    def _ready_to_send(self) -> bool:
        if self._live is not None:
            self.notice.emit("Wait for the reply to finish, or stop it (Esc).")
            return False
        if self.model is None and self.route.server is None:
            self.notice.emit("Choose a model first: pick one in the toolbar or open a GGUF file.")
            return False
        return True

    def _last_user_position(self) -> int | None:
        users = [r.position for r in self.rows if r.role == "user"]
        return users[-1] if users else None

    def _drop_rows_after(self, position: int) -> None:
        """The store has removed the messages after ``position``; so do the views."""
        self.rows = [r for r in self.rows if r.position <= position]
        self.messages_removed.emit(position)

    def _append_row(self, mid: int) -> MessageRow:
        row = self.store.message(mid)
        assert row is not None
        self.rows.append(row)
        self.message_added.emit(row)
        return row

    def _start_reply(
        self, replace_after: int | None = None, samples: int = 1, keep_versions: bool = False
    ) -> bool:
        """Save the reply's row (replacing the messages after ``replace_after`` in the same
        transaction: a regenerate that cannot be saved keeps the old answer; with
        ``keep_versions`` the old reply becomes the new one's earlier version) and start
        it."""
        name, spec = self._target()
        try:
            mid = self.store.add_message(
                self.cid,
                "assistant",
                "",
                state="streaming",
                model=name,
                replace_after=replace_after,
                keep_versions=keep_versions,
            )
        except SaveError as exc:
            self._refused(exc, "The reply was not started")
            return False
        if replace_after is not None:
            self._drop_rows_after(replace_after)
        history = conversation_from_turns(
            [(r.role, r.content) for r in self.rows if r.role in ("user", "assistant")],
            system=self.settings.system_prompt,
            boxed=self.settings.boxed_answers,
        )
        # Before the views see the row: they build a group's lanes from it.
        self._live = LiveReply(
            self.cid, mid, name, group=LiveGroup(samples) if samples > 1 else None
        )
        self._append_row(mid)
        self._checkpoint.start()
        self.busy_changed.emit(True)
        self._touch()
        s = self.settings
        sampling = SamplingParams(
            temperature=s.temperature,
            top_p=s.top_p,
            max_tokens=s.max_tokens,
            think_budget=s.think_budget or None,
        )
        self.worker.submit(spec, history.prompt_messages(), sampling, samples)
        return True

    def _refused(self, exc: SaveError, what: str) -> None:
        log.warning("%s: %s", what, exc.message)
        self.notice.emit(f"{what}: {exc.message} {exc.hint}")

    def _touch(self) -> None:
        conv = self.store.conversation(self.cid)
        if conv is not None:
            self.conversation_touched.emit(conv.id, conv.title)

    # -- the live reply -----------------------------------------------------------------

    def _on_reasoning(self, text: str) -> None:
        if self._live is None:
            return
        self._live.reasoning.append(text)
        self._live.dirty = True
        if self._live.cid == self.cid:
            self.reasoning.emit(text)

    def _on_answer(self, text: str) -> None:
        if self._live is None:
            return
        self._live.answer.append(text)
        self._live.dirty = True
        if self._live.cid == self.cid:
            self.answer.emit(text)

    def _on_progress(self, stats: LiveStats) -> None:
        live = self._live
        if live is None or live.cid != self.cid:
            return
        if stats.sample is None:
            self.live.emit(stats)
            return
        self.sample_progress.emit(stats)
        self.live.emit(live.group_progress(stats))

    def _on_sample_reasoning(self, sample: int, text: str) -> None:
        live = self._live
        if live is None or live.group is None:
            return
        live.group.add_reasoning(sample, text)
        live.dirty = True
        if live.cid == self.cid:
            self.sample_reasoning.emit(sample, text)

    def _on_sample_answer(self, sample: int, text: str) -> None:
        live = self._live
        if live is None or live.group is None:
            return
        live.group.add_answer(sample, text)
        live.dirty = True
        if live.cid == self.cid:
            self.sample_answer.emit(sample, text)

    def _on_sample_done(self, sample: int, stats: GenerationStats) -> None:
        live = self._live
        if live is None or live.group is None:
            return
        live.group.finish_sample(sample, stats)
        live.dirty = True
        if live.cid == self.cid:
            self.sample_finished.emit(sample, stats)

    def _on_silence(self, seconds: float) -> None:
        if self._live is not None or not seconds:
            self.engine_silent.emit(seconds)

    def _save_checkpoint(self) -> None:
        live = self._live
        if live is None or not live.dirty:
            return
        content, reasoning, group = live.saved_form()
        try:
            if group is None:
                self.store.checkpoint(live.mid, content, reasoning)
            else:  # every sample so far, in the reply's stats (state unchanged)
                self.store.finish_message(
                    live.mid, content, reasoning, "streaming", group.reply_stats({})
                )
        except SaveError as exc:
            if not live.save_failed:
                live.save_failed = True
                self._refused(exc, "The reply is not being saved")
            return  # still dirty: the next checkpoint tries again
        live.dirty = False

    def _on_finished(self, stats: GenerationStats) -> None:
        state: MessageState = "stopped" if stats.stop_reason == "stopped" else "complete"
        # A group's Done says how many samples the engine ran (memory may allow fewer than
        # asked); a group the client had to kill ends with a bare Done (samples=1).
        self._end_reply(state, dataclasses.asdict(stats), stats.samples)

    def _on_failed(self, kind: str, message: str, hint: str) -> None:
        if self._live is None:
            return  # the reply was already ended (saved at quit)
        self._end_reply("error", {"error_kind": kind, "error": message, "hint": hint})
        self.reply_failed.emit(f"{message} {hint}".strip())

    def _end_reply(self, state: MessageState, stats: dict[str, object], samples: int = 1) -> None:
        live = self._live
        if live is None:
            return
        self._live = None
        self._checkpoint.stop()
        self.engine_silent.emit(0.0)
        content, reasoning, group = live.saved_form(samples if samples > 1 else None)
        if group is not None:
            stats = group.reply_stats(stats)
        saved = self._pending.put(live.mid, content, reasoning, state, stats)
        if not saved and not live.save_failed:
            self.notice.emit(
                "The reply could not be saved yet; Ponder keeps trying. "
                "Free some disk space so it can."
            )
        if live.cid == self.cid:
            for i, row in enumerate(self.rows):
                if row.id == live.mid:
                    self.rows[i] = final = dataclasses.replace(
                        row, content=content, reasoning=reasoning, state=state, stats=stats
                    )
                    self.reply_finished.emit(final)
                    break
        self.busy_changed.emit(False)
