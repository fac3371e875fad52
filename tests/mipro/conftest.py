"""A scripted task where the answer depends on the instruction and the demonstrations."""

from __future__ import annotations

import re

import pytest

from aether.mipro.lm import Decoding, ScriptedLM
from aether.mipro.metrics import field_metric, label_match
from aether.mipro.program import Module, Predict, Signature

WORDS = {"good": "positive", "great": "positive", "bad": "negative", "awful": "negative"}


def sentiment_script(prompt: str, decoding: Decoding, rollout: int) -> str:
    """Right only when the instruction mentions sentiment, or a demo shows the label set."""
    if prompt.startswith("Here are examples"):
        return " label short reviews by their sentiment."
    if prompt.startswith("Write an instruction"):
        k = int(re.findall(r"Instruction (\d+):", prompt)[-1])
        return [
            " Label the review.",
            " Give the sentiment of the review: positive or negative.",
            " Read carefully.",
            " Decide the review's sentiment.",
        ][k % 4]
    instruction = prompt.split("\n\n", 1)[0].lower()
    query = prompt.rsplit("\n\n", 1)[-1]
    text = query.split("Text:", 1)[1].split("\n", 1)[0]
    knows = "sentiment" in instruction or "Label: positive" in prompt
    if not knows:
        return " unsure"
    word = next((w for w in WORDS if w in text), None)
    return f" {WORDS[word]}" if word else " unsure"


class Classify(Module):
    input_keys = ("text",)

    def __init__(self) -> None:
        self.predict = Predict(Signature.parse("text -> label", "Answer."))

    def forward(self, env, text):
        return self.predict(env, text=text)


def examples(n: int, offset: int = 0) -> list[dict[str, str]]:
    words = list(WORDS)
    return [
        {"text": f"review {i}: it was {words[i % 4]}", "label": WORDS[words[i % 4]]}
        for i in range(offset, offset + n)
    ]


@pytest.fixture
def task():
    return Classify(), field_metric("label", label_match), examples(12), examples(16, 100)


@pytest.fixture
def scripted():
    return ScriptedLM(sentiment_script)
