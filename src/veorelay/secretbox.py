"""Channel credentials and webhook signing secrets encrypted at rest (Fernet: AES-128-CBC +
HMAC-SHA256, `cryptography`).

The key comes from `VEORELAY_SECRET_KEY`; without it one is generated once into
`<data_dir>/secret.key` (mode 0600). Several replicas must share the same key.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret.key"


class SecretKeyMismatch(Exception):
    """A stored secret cannot be decrypted with the configured key."""


class SecretBox:
    def __init__(self, key: str | bytes):
        self._fernet = Fernet(key.encode() if isinstance(key, str) else key)

    @classmethod
    def from_settings(cls, secret_key: str | None, data_dir: Path) -> SecretBox:
        if secret_key:
            return cls(secret_key)
        path = data_dir / KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            # Written aside and linked into place: a process starting at the same moment
            # sees either no file or the whole key, and the first link wins.
            staged = data_dir / f".{KEY_FILE}.{os.getpid()}"
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
            try:
                os.link(staged, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(staged)
        return cls(path.read_bytes().strip())

    def seal(self, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise SecretKeyMismatch(
                "a channel secret cannot be decrypted: VEORELAY_SECRET_KEY (or data_dir/"
                "secret.key) differs from the key it was stored with"
            ) from None
        return opened


def fingerprint(secret: str) -> str:
    """A short, non-reversible name for a secret, safe to show and log."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]
