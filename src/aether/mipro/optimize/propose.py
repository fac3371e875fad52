"""Step 2, propose: candidate instructions per module, written by an LM and grounded (as in
the paper) in a dataset summary, a program summary, the module's bootstrapped demos and a
sampled tip; optionally also in earlier instructions with their scores (meta-optimization).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from aether.mipro.lm.base import LM, Decoding
from aether.mipro.optimize.evaluate import Example
from aether.mipro.program.module import Module
from aether.mipro.program.predict import Predict

SUMMARY_LEAD = "The task is to"
TIPS = (
    "Keep the instruction short and direct.",
    "Be creative: frame the task in a way that helps the model.",
    "Name the exact format the answer must take.",
    "Describe what a good answer looks like and what mistakes to avoid.",
    "Ask the model to think like an expert in the task's domain.",
    "Mention the possible answers explicitly when there are few.",
)


def program_summary(program: Module) -> str:
    """What the program does, from its structure: module names, signatures, instructions."""
    lines = [f"The program has {len(program.named_predictors())} module(s):"]
    for name, predictor in program.named_predictors():
        sig = predictor.signature
        lines.append(f"- {name}: {sig.describe()} ({sig.instruction})")
    return "\n".join(lines)


def _examples_block(examples: Sequence[Example], limit: int = 4) -> str:
    return "\n".join(
        "; ".join(f"{k}: {' '.join(str(v).split())[:160]}" for k, v in ex.items())
        for ex in list(examples)[:limit]
    )


@dataclass
class GroundedProposer:
    """Writes instructions with `lm` (the prompt model); every call goes through its cache."""

    lm: LM
    use_dataset_summary: bool = True
    use_program_summary: bool = True
    use_demos: bool = True
    use_tip: bool = True
    use_history: bool = True
    temperature: float = 0.7
    max_tokens: int = 96

    def dataset_summary(self, trainset: Sequence[Example]) -> str:
        """One or two sentences on the task, or "" when the LM writes nothing.

        The prompt ends mid-sentence (`Summary: The task is to`): asked for a summary after a
        bare `Summary:`, SmolLM2-135M often ends its text at once (measured: an empty summary
        on iris, ScoNe and GSM8K extraction), which left the proposer without its grounding."""
        prompt = (
            "Here are examples from a dataset.\n\n"
            f"{_examples_block(trainset, 6)}\n\n"
            "In one or two sentences, describe the task these examples pose.\n"
            f"Summary: {SUMMARY_LEAD}"
        )
        text = self.lm.complete(prompt, Decoding(0.0, self.max_tokens, ("\n\n",))).text
        text = " ".join(text.split())
        return f"{SUMMARY_LEAD} {text}" if text else ""

    def propose(
        self,
        name: str,
        predictor: Predict,
        *,
        n: int,
        seed: int,
        summary: str,
        program: str,
        demos: Sequence[Sequence[dict]],
        history: Sequence[tuple[str, float]] = (),
    ) -> list[str]:
        """The original instruction plus up to `n - 1` distinct proposals."""
        original = predictor.signature.instruction
        found = [original]
        rng = random.Random(f"{seed}:{name}")
        for k in range(1, 3 * n):
            if len(found) >= n:
                break
            prompt = self._prompt(name, predictor, rng, k, summary, program, demos, history)
            decoding = Decoding(self.temperature, self.max_tokens, ("\n\n",), seed)
            text = " ".join(self.lm.complete(prompt, decoding, rollout=k).text.split())
            text = text.strip().strip('"').strip()
            if len(text) >= 8 and text not in found:
                found.append(text)
        return found

    def _prompt(self, name, predictor, rng, k, summary, program, demos, history) -> str:
        sig = predictor.signature
        parts = ["Write an instruction for one step of a language model program."]
        if self.use_dataset_summary and summary:
            parts.append(f"Task: {summary}")
        if self.use_program_summary and program:
            parts.append(program)
        parts.append(
            f"The step is {name}: it reads {', '.join(sig.input_names)} and writes "
            f"{', '.join(sig.output_names)}."
        )
        if self.use_demos:
            pool = [d for demo_set in demos for d in demo_set]
            if pool:
                parts.append(
                    "Examples of this step:\n"
                    + _examples_block(rng.sample(pool, min(3, len(pool))))
                )
        if self.use_history and history:
            ranked = sorted(history, key=lambda h: -h[1])[:5]
            parts.append(
                "Earlier instructions and their scores (higher is better):\n"
                + "\n".join(f"{score:.2f}: {text}" for text, score in ranked)
            )
        if self.use_tip:
            parts.append(f"Tip: {TIPS[rng.randrange(len(TIPS))]}")
        parts.append(f"Instruction {k}:")
        return "\n\n".join(parts)
