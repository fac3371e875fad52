"""Language models behind one small protocol: `complete(prompt, decoding, rollout)`."""

from aether.mipro.lm.base import LM, Completion, Decoding, Usage
from aether.mipro.lm.cache import CachedLM, CallCache
from aether.mipro.lm.http import OpenAICompatibleLM
from aether.mipro.lm.scripted import ScriptedLM

__all__ = [
    "LM",
    "CachedLM",
    "CallCache",
    "Completion",
    "Decoding",
    "OpenAICompatibleLM",
    "ScriptedLM",
    "Usage",
]
