"""The chat database's schema: one forward migration per version (``PRAGMA user_version``
counts how many have run). ``ChatStore`` runs the missing ones when it opens a file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def _v1(db: sqlite3.Connection) -> None:
    # Statement by statement: executescript() would commit the migration's transaction.
    _run_script(
        db,
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            system TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            deleted_at REAL
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL DEFAULT '',
            reasoning TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'complete',
            model TEXT NOT NULL DEFAULT '',
            stats TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX messages_by_conversation ON messages(conversation_id, position);
        CREATE INDEX conversations_by_update ON conversations(updated_at);
        """,
    )


def _v2(db: sqlite3.Connection) -> None:
    # A reply's earlier versions (Regenerate keeps them, as "< 2/3 >" does elsewhere): the
    # shown version stays in `messages`, so everything that reads a conversation is
    # unchanged; its place among the versions is the one ordinal missing here.
    _run_script(
        db,
        """
        CREATE TABLE reply_versions (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            content TEXT NOT NULL DEFAULT '',
            reasoning TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'complete',
            model TEXT NOT NULL DEFAULT '',
            stats TEXT,
            created_at REAL NOT NULL,
            UNIQUE (message_id, ordinal)
        );
        """,
    )


def _run_script(db: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2]
SCHEMA_VERSION = len(MIGRATIONS)
