"""A deterministic LM from a Python function: for optimizer plumbing tests, not quality."""

from __future__ import annotations

import threading
from collections.abc import Callable

from aether.mipro.lm.base import Completion, Decoding


class ScriptedLM:
    """Answers `script(prompt, decoding, rollout)`; counts the calls it really received."""

    def __init__(self, script: Callable[[str, Decoding, int], str], model: str = "scripted"):
        self.script = script
        self.model = model
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def complete(self, prompt: str, decoding: Decoding, rollout: int = 0) -> Completion:
        with self._lock:
            self.calls.append(prompt)
        text = self.script(prompt, decoding, rollout)
        return Completion(text, len(prompt.split()), len(text.split()))
