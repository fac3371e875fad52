"""Predictors: render instruction + demonstrations + inputs into a completion prompt, call the
LM, and parse the fields back out of whatever text it returns.

The prompt is plain completion text (not a chat template): small models follow a
`Field: value` pattern shown by demonstrations far better than a chat turn.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from aether.mipro.lm.base import Decoding
from aether.mipro.program.module import Env, Module, Prediction
from aether.mipro.program.signature import Field, Signature

_MARKUP = "*_`#"


def _clean(value: str) -> str:
    """Strip whitespace and the markdown a model wraps values in (`**yes**`, `` `4` ``)."""
    return value.strip().strip(_MARKUP).strip()


class Predict(Module):
    """One LM call for one signature; its instruction and demos are what optimizers change."""

    def __init__(self, signature: Signature | str, decoding: Decoding | None = None) -> None:
        self.signature = Signature.parse(signature) if isinstance(signature, str) else signature
        self.decoding = decoding or Decoding(max_tokens=64)
        self.demos: list[dict[str, str]] = []

    def named_predictors(self) -> list[tuple[str, Predict]]:
        return [("self", self)]

    # -- prompt ---------------------------------------------------------------------------
    def render(self, inputs: dict[str, Any], demos: list[dict[str, str]] | None = None) -> str:
        sig = self.signature
        head = [sig.instruction.strip()]
        # Descriptions as sentences, never as `Field: desc` lines: rendered like a filled-in
        # field, `Answer: a number` reads to a small model as an example whose answer is the
        # text "a number", which it then copies (zero-shot prompts have no real example).
        head += [describe(f) for f in (*sig.inputs, *sig.outputs) if f.desc]
        parts = [" ".join(h for h in head if h)]
        for demo in self.demos if demos is None else demos:
            fields = [f for f in (*sig.inputs, *sig.outputs) if f.name in demo]
            parts.append("\n".join(f"{f.prefix} {_one_line(demo[f.name])}" for f in fields))
        query = [f"{f.prefix} {_one_line(inputs[f.name])}" for f in sig.inputs]
        parts.append("\n".join([*query, sig.outputs[0].prefix]))
        return "\n\n".join(parts)

    def stops(self) -> tuple[str, ...]:
        """Stop where a model starts inventing the next example."""
        return ("\n\n", *(f"\n{f.prefix}" for f in self.signature.inputs))

    def closed(self) -> tuple[str, ...]:
        """The choices the whole completion must be one of: those of a sole closed output
        field (a label), so a model that can be constrained writes nothing else; () when the
        completion holds more (reasoning, several fields)."""
        outputs = self.signature.outputs
        return outputs[0].choices if len(outputs) == 1 else ()

    # -- parse ----------------------------------------------------------------------------
    def parse(self, text: str) -> Prediction:
        """Fields by their prefixes; the first output is the text before any prefix.

        Missing fields are empty strings and mark the prediction `ok=False` rather than
        raising: a malformed answer is a wrong answer, not a crashed run.
        """
        outputs = self.signature.outputs
        names = "|".join(re.escape(f.prefix[:-1]) for f in outputs)
        pattern = re.compile(
            rf"^[\s{re.escape(_MARKUP)}]*({names})[\s{re.escape(_MARKUP)}]*:",
            re.IGNORECASE | re.MULTILINE,
        )
        by_prefix = {f.prefix[:-1].lower(): f.name for f in outputs}
        values: dict[str, str] = {}
        matches = list(pattern.finditer(text))
        head = text[: matches[0].start()] if matches else text
        values[outputs[0].name] = head
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
            name = by_prefix[m.group(1).lower()]
            if name == outputs[0].name and _clean(values[name]):
                continue  # a repeated first field: keep the first value
            values.setdefault(name, "")
            if not _clean(values[name]):
                values[name] = text[m.end() : end]
        prediction = Prediction({f.name: _clean(values.get(f.name, "")) for f in outputs})
        prediction.ok = all(prediction[f.name] for f in outputs)
        if len(outputs) == 1:
            # A single field answers on its first non-empty line.
            lines = [ln for ln in prediction[outputs[0].name].splitlines() if ln.strip()]
            prediction[outputs[0].name] = _clean(lines[0]) if lines else ""
        for f in outputs:
            if f.choices:
                prediction[f.name] = choose(prediction[f.name], f.choices)
                prediction.ok = prediction.ok and prediction[f.name] in f.choices
        return prediction

    # -- call -----------------------------------------------------------------------------
    def forward(self, env: Env, **inputs: Any) -> Prediction:
        missing = [n for n in self.signature.input_names if n not in inputs]
        if missing:
            raise KeyError(f"{self.signature.describe()}: missing inputs {missing}")
        decoding = replace(self.decoding, stop=self.stops(), choices=self.closed())
        if env.temperature is not None:
            decoding = replace(decoding, temperature=env.temperature)
        completion = env.lm.complete(self.render(inputs), decoding, env.rollout)
        prediction = self.parse(completion.text)
        if env.trace is not None:
            env.trace.append((self, {n: inputs[n] for n in self.signature.input_names}, prediction))
        return prediction


class ChainOfThought(Predict):
    """Predict with a `reasoning` output before the others (step-by-step, then the answer)."""

    def __init__(self, signature: Signature | str, decoding: Decoding | None = None) -> None:
        sig = Signature.parse(signature) if isinstance(signature, str) else signature
        reasoning = Field("reasoning", "step-by-step thinking")
        super().__init__(sig.prepend_output(reasoning), decoding or Decoding(max_tokens=192))

    def stops(self) -> tuple[str, ...]:
        # Reasoning may span lines; stop only at a new example's first input field.
        return (f"\n{self.signature.inputs[0].prefix}", "\n\n\n")

    def parse(self, text: str) -> Prediction:
        """As Predict's, but a final field the text never labels is the reasoning's last line.

        Zero-shot, a model has seen no example of the format and ends its reasoning with
        `The answer is 38.` rather than `Answer: 38` (SmolLM2 on GSM8K, measured): without this
        a right answer scored 0. The prediction stays `ok=False`, so it never becomes a demo."""
        prediction = super().parse(text)
        last = self.signature.outputs[-1].name
        lines = [ln for ln in prediction["reasoning"].splitlines() if ln.strip()]
        if not prediction[last] and lines:
            prediction[last] = _clean(lines[-1])
        return prediction


def choose(answer: str, choices: tuple[str, ...]) -> str:
    """The choice a closed field's answer names: the one it starts with (as a whole word, the
    longest if several), else the only one it mentions; otherwise the answer unchanged (a
    wrong answer). Small models restate the field's description: SmolLM2 answers HoVer with
    "The claim is one of: NOT_SUPPORTED.", which scored 0 against DSPy's grammar-forced labels.
    Case-insensitive; "SUPPORTED" is not found inside "NOT_SUPPORTED"."""
    found = []
    for choice in choices:
        m = re.search(rf"(?<!\w){re.escape(choice)}(?!\w)", answer, re.IGNORECASE)
        if m:
            found.append((m.start(), -len(choice), choice))
    if not found:
        return answer
    first = min(found)
    if first[0] == 0 or len(found) == 1:
        return first[2]
    return answer


def describe(field: Field) -> str:
    """A field's description as one sentence: `The label is one of: yes, no.`"""
    desc = " ".join(field.desc.split()).rstrip(".")
    return f"The {field.name.replace('_', ' ')} is {desc}." if desc else ""


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())
