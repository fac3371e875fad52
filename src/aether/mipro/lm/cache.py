"""A persistent SQLite call cache, so a rerun or a resumed run never pays for a call twice."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path

from aether.mipro.lm.base import LM, Completion, Decoding, Usage


def call_key(model: str, prompt: str, decoding: Decoding, rollout: int) -> str:
    """Model, prompt, decoding parameters and rollout id: everything that makes a call."""
    payload = {"model": model, "prompt": prompt, "decoding": decoding.key(), "rollout": rollout}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class CallCache:
    """Completions by call key in one SQLite file (WAL; safe across threads and processes)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
        with self._lock, self._db:
            self._wal()
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, model TEXT, "
                "text TEXT, prompt_tokens INT, completion_tokens INT)"
            )

    def _wal(self, attempts: int = 100) -> None:
        """Switch to WAL. The switch takes an exclusive lock that SQLite refuses at once, not
        after the busy timeout, while another connection opens the same file (seen when two
        optimizer tasks opened the cache together), so it is retried."""
        for attempt in range(attempts):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == attempts - 1:
                    raise
                time.sleep(0.05)

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, prompt_tokens, completion_tokens FROM calls WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else Completion(row[0], row[1], row[2], cached=True)

    def put(self, key: str, model: str, completion: Completion) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO calls VALUES (?, ?, ?, ?, ?)",
                (
                    key,
                    model,
                    completion.text,
                    completion.prompt_tokens,
                    completion.completion_tokens,
                ),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedLM:
    """An LM seen through the cache and the accounting: the only LM optimizers talk to."""

    def __init__(self, lm: LM, cache: CallCache | None = None, usage: Usage | None = None):
        self.lm = lm
        self.model = lm.model
        self.cache = cache
        self.usage = usage if usage is not None else Usage()

    def complete(self, prompt: str, decoding: Decoding, rollout: int = 0) -> Completion:
        key = call_key(self.model, prompt, decoding, rollout)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.usage.hit()
            return hit
        self.usage.reserve()
        completion = self.lm.complete(prompt, decoding, rollout)
        self.usage.add(completion)
        if self.cache is not None:
            self.cache.put(key, self.model, completion)
        return completion
