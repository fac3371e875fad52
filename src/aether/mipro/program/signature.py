"""A signature: named input and output fields with descriptions, plus the instruction."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Field:
    name: str
    desc: str = ""
    choices: tuple[str, ...] = ()  # a closed set of answers (a label); parsed to one of them

    @property
    def prefix(self) -> str:
        """How the field is labelled in a prompt: `question_text` -> `Question Text:`."""
        return self.name.replace("_", " ").title() + ":"


@dataclass(frozen=True)
class Signature:
    inputs: tuple[Field, ...]
    outputs: tuple[Field, ...]
    instruction: str = ""

    @classmethod
    def parse(cls, spec: str, instruction: str = "", **descs: str | tuple[str, ...]) -> Signature:
        """`"context, question -> answer"`, with optional per-field descriptions; a tuple
        describes a closed field by its choices (`label=("yes", "no")`: "one of: yes, no")."""
        left, arrow, right = spec.partition("->")
        names_in = [n.strip() for n in left.split(",") if n.strip()]
        names_out = [n.strip() for n in right.split(",") if n.strip()]
        if not arrow or not names_in or not names_out:
            raise ValueError(f"signature {spec!r} must read 'inputs -> outputs'")
        if len(set(names_in + names_out)) != len(names_in) + len(names_out):
            raise ValueError(f"signature {spec!r} repeats a field name")

        def field(name: str) -> Field:
            desc = descs.get(name, "")
            if isinstance(desc, tuple):
                return Field(name, "one of: " + ", ".join(desc), desc)
            return Field(name, desc)

        return cls(
            tuple(field(n) for n in names_in),
            tuple(field(n) for n in names_out),
            instruction
            or f"Given the fields {', '.join(names_in)}, produce "
            f"the fields {', '.join(names_out)}.",
        )

    def with_instruction(self, instruction: str) -> Signature:
        return replace(self, instruction=instruction)

    def prepend_output(self, field: Field) -> Signature:
        return replace(self, outputs=(field, *self.outputs))

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.outputs)

    def describe(self) -> str:
        return f"{', '.join(self.input_names)} -> {', '.join(self.output_names)}"
