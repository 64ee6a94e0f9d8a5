import os

os.environ.setdefault("DATABASE_URL", "postgresql://notes:changeme@localhost:5432/notes")

from fastapi.testclient import TestClient  # noqa: E402

from app import main  # noqa: E402


class FakeStore:
    def __init__(self) -> None:
        self.notes: list[dict] = []

    def migrate(self) -> None:
        pass

    def ping(self) -> None:
        pass

    def list(self, limit: int = 100) -> list[dict]:
        return list(reversed(self.notes))[:limit]

    def get(self, note_id: int) -> dict | None:
        return next((n for n in self.notes if n["id"] == note_id), None)

    def create(self, title: str, body: str) -> dict:
        note = {"id": len(self.notes) + 1, "title": title, "body": body}
        self.notes.append(note)
        return note


def client(monkeypatch) -> TestClient:
    monkeypatch.setattr(main, "store", FakeStore())
    return TestClient(main.app)


def test_healthz(monkeypatch):
    with client(monkeypatch) as c:
        assert c.get("/healthz").json() == {"status": "ok"}


def test_create_and_get(monkeypatch):
    with client(monkeypatch) as c:
        created = c.post("/notes", json={"title": "hello", "body": "world"})
        assert created.status_code == 201
        got = c.get(f"/notes/{created.json()['id']}")
        assert got.json()["title"] == "hello"
        assert c.get("/notes/99").status_code == 404


def test_rejects_empty_title(monkeypatch):
    with client(monkeypatch) as c:
        assert c.post("/notes", json={"title": ""}).status_code == 422
