"""HTTP API for notes."""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from app.db import NoteStore

DATABASE_URL = os.environ["DATABASE_URL"]
LOG_LEVEL = os.getenv("LOG_LEVEL", "info")

logging.basicConfig(level=LOG_LEVEL.upper())
log = logging.getLogger("notes-api")

store = NoteStore(DATABASE_URL)


@asynccontextmanager
async def lifespan(_: FastAPI):
    store.migrate()
    log.info("schema ready")
    yield


app = FastAPI(title="notes-api", lifespan=lifespan)


class NewNote(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = ""


@app.get("/healthz")
def healthz() -> dict:
    try:
        store.ping()
    except Exception as exc:  # noqa: BLE001 - report any database failure
        raise HTTPException(status_code=503, detail="database unavailable") from exc
    return {"status": "ok"}


@app.get("/notes")
def list_notes() -> list[dict]:
    return store.list()


@app.get("/notes/{note_id}")
def get_note(note_id: int) -> dict:
    note = store.get(note_id)
    if note is None:
        raise HTTPException(status_code=404, detail="note not found")
    return note


@app.post("/notes", status_code=201)
def create_note(note: NewNote) -> dict:
    return store.create(note.title, note.body)
