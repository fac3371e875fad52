"""The LM protocol, decoding parameters, and per-stage call/token accounting."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from aether.mipro.errors import BudgetExceededError


@dataclass(frozen=True)
class Decoding:
    """Decoding parameters; part of the cache key, so a change is a different call."""

    temperature: float = 0.0
    max_tokens: int = 128
    stop: tuple[str, ...] = ()
    seed: int = 0

    def key(self) -> dict:
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "seed": self.seed,
        }


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False


@runtime_checkable
class LM(Protocol):
    """A text-completion model. `rollout` tells apart samples of the same prompt."""

    model: str

    def complete(self, prompt: str, decoding: Decoding, rollout: int = 0) -> Completion: ...


@dataclass
class Usage:
    """Calls and tokens actually paid for (cache hits counted apart), with an optional cap.

    The cap is a hard budget in paid LM calls: the call that would exceed it raises
    `BudgetExceededError` before it is made.
    """

    max_calls: int | None = None
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def reserve(self) -> None:
        with self._lock:
            if self.max_calls is not None and self.calls >= self.max_calls:
                raise BudgetExceededError(
                    f"LM call budget of {self.max_calls} calls is spent; raise it "
                    "(mipro.max_lm_calls) or rerun: cached calls are free"
                )
            self.calls += 1

    def add(self, completion: Completion) -> None:
        with self._lock:
            self.prompt_tokens += completion.prompt_tokens
            self.completion_tokens += completion.completion_tokens

    def hit(self) -> None:
        with self._lock:
            self.cache_hits += 1

    def as_dict(self) -> dict[str, int]:
        return {
            "lm_calls": self.calls,
            "lm_cache_hits": self.cache_hits,
            "lm_prompt_tokens": self.prompt_tokens,
            "lm_completion_tokens": self.completion_tokens,
        }
