"""Durable simulator state: one JSON file per operation, so a restart loses nothing."""

from __future__ import annotations

import json
import os
import re
import secrets
import string
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

_ALPHABET = string.ascii_lowercase + string.digits
_ID = re.compile(r"[a-z0-9-]{1,64}")
_STALE_PART_SECONDS = 60.0  # a save takes milliseconds: an older .part was left by a kill -9


def new_id() -> str:
    """12 lowercase alphanumerics, like Google's operation and file ids."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def new_vertex_id() -> str:
    """A UUID, like Vertex AI's operation ids."""
    return str(uuid.uuid4())


@dataclass
class Operation:
    id: str
    model: str
    created_at: float
    ready_at: float
    prompt: str
    seed: int | None
    width: int
    height: int
    seconds: int
    outcome: str  # "video", "filtered" or "error"
    download_token: str
    render_file: str | None = None
    dialect: str = "gemini"  # or "vertex"
    project: str = ""  # Vertex only
    location: str = ""  # Vertex only
    sample_count: int = 1
    storage_uri: str | None = None  # Vertex: gs://bucket/prefix for the results

    @property
    def resource(self) -> str:
        """The model the operation belongs to, as the poll URL names it."""
        if self.dialect == "vertex":
            return (
                f"projects/{self.project}/locations/{self.location}"
                f"/publishers/google/models/{self.model}"
            )
        return f"models/{self.model}"

    @property
    def name(self) -> str:
        return f"{self.resource}/operations/{self.id}"


class OperationStore:
    def __init__(self, directory: Path):
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)
        for part in self._dir.glob("*.part"):
            try:
                if part.stat().st_mtime < time.time() - _STALE_PART_SECONDS:
                    part.unlink()
            except FileNotFoundError:
                pass

    def save(self, operation: Operation) -> None:
        fd, tmp = tempfile.mkstemp(dir=self._dir, suffix=".part")
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(operation), handle)
        os.replace(tmp, self._dir / f"{operation.id}.json")

    def load(self, operation_id: str) -> Operation | None:
        if not _ID.fullmatch(operation_id):
            return None
        try:
            data = json.loads((self._dir / f"{operation_id}.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return Operation(**data)
