"""Database access for notes, using psycopg 3."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg.rows import dict_row

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id         BIGSERIAL PRIMARY KEY,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


class NoteStore:
    """Reads and writes notes in PostgreSQL."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self._dsn, row_factory=dict_row) as conn:
            yield conn

    def migrate(self) -> None:
        with self._conn() as conn:
            conn.execute(SCHEMA)

    def ping(self) -> None:
        with self._conn() as conn:
            conn.execute("SELECT 1")

    def list(self, limit: int = 100) -> list[dict]:
        with self._conn() as conn:
            return conn.execute(
                "SELECT id, title, body, created_at FROM notes ORDER BY id DESC LIMIT %s",
                (limit,),
            ).fetchall()

    def get(self, note_id: int) -> dict | None:
        with self._conn() as conn:
            return conn.execute(
                "SELECT id, title, body, created_at FROM notes WHERE id = %s",
                (note_id,),
            ).fetchone()

    def create(self, title: str, body: str) -> dict:
        with self._conn() as conn:
            return conn.execute(
                "INSERT INTO notes (title, body) VALUES (%s, %s) "
                "RETURNING id, title, body, created_at",
                (title, body),
            ).fetchone()
