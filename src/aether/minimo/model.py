"""One small transformer for everything Minimo learns: the conjecturer (a language model over
the completion engine's tokens, conditioned on a difficulty tag), the policy (a score for each
action text at a goal) and the value (the probability that a goal is provable).

Goals and actions are read character by character; conjectures are written token by token in
the engine's vocabulary, so the constrained-decoding mask applies to the model's logits
directly. The policy and value heads start at zero: an untrained model is the uniform scorer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aether.minimo.conjecture import EOS, CompletionEngine, NextToken

TAGS = ("hard", "easy", "trivial", "fail")
SPECIALS = ("<pad>", "<eos>", "<sep>", "<policy>", "<value>", *(f"<{t}>" for t in TAGS))
CHARS = [chr(c) for c in range(32, 127)]
PAD = 0


@dataclass(frozen=True)
class ModelConfig:
    conjecture_vocabulary: tuple[str, ...]  # the completion engine's tokens (EOS first)
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    context: int = 128


class Tokenizer:
    """Special tokens, printable characters, then the engine's conjecture tokens."""

    def __init__(self, conjecture_vocabulary: tuple[str, ...]):
        if conjecture_vocabulary[0] != EOS:
            raise ValueError("the conjecture vocabulary must start with the engine's EOS")
        self.ids = {s: i for i, s in enumerate(SPECIALS)}
        self.char_offset = len(SPECIALS)
        self.conj_offset = self.char_offset + len(CHARS)
        # the engine's EOS is the model's <eos>; its other tokens get ids of their own
        self.conj_ids = [self.ids["<eos>"]] + [
            self.conj_offset + i for i in range(len(conjecture_vocabulary) - 1)
        ]
        self.conj_index = {tok: i for i, tok in enumerate(conjecture_vocabulary)}
        self.size = self.conj_offset + len(conjecture_vocabulary) - 1

    def chars(self, text: str) -> list[int]:
        return [self.char_offset + (ord(c) - 32 if 32 <= ord(c) < 127 else 0) for c in text]

    def goal(self, goal: str, room: int) -> list[int]:
        """The goal's last `room` characters: the target sits at the end of the text."""
        return self.chars(goal[-room:]) if room > 0 else []

    def conjecture(self, tag: str, tokens: list[str], eos: bool = True) -> list[int]:
        ids = [self.ids[f"<{tag}>"], *(self.conj_ids[self.conj_index[t]] for t in tokens)]
        return [*ids, self.ids["<eos>"]] if eos else ids


class Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.heads, d // self.heads).unbind(2)
        att = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
        x = x + self.out(att.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.ln2(x))


class MinimoModel(nn.Module):
    """A causal transformer with three heads: next token, action score, goal value."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.tok = Tokenizer(config.conjecture_vocabulary)
        d = config.d_model
        self.embed = nn.Embedding(self.tok.size, d)
        self.pos = nn.Embedding(config.context + 2, d)
        self.blocks = nn.ModuleList(Block(d, config.n_heads) for _ in range(config.n_layers))
        self.ln = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, self.tok.size)
        self.policy_head, self.value_head = nn.Linear(d, 1), nn.Linear(d, 1)
        for head in (self.policy_head, self.value_head):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    @property
    def device(self) -> torch.device:
        return self.embed.weight.device

    def hidden(self, seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden states of right-padded sequences, and each sequence's last position."""
        limit = self.config.context + 2
        seqs = [s[:limit] for s in seqs]
        n = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), n), PAD, dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
        ids = ids.to(self.device)
        x = self.embed(ids) + self.pos(torch.arange(n, device=self.device))
        for block in self.blocks:
            x = block(x)
        last = torch.tensor([len(s) - 1 for s in seqs], device=self.device)
        return self.ln(x), last

    # --- the three heads -------------------------------------------------------------------
    def policy_seq(self, goal: str, action: str) -> list[int]:
        act = self.tok.chars(action[: self.config.context // 2])
        room = self.config.context - len(act) - 1
        return [self.tok.ids["<policy>"], *self.tok.goal(goal, room), self.tok.ids["<sep>"], *act]

    def value_seq(self, goal: str) -> list[int]:
        return [self.tok.ids["<value>"], *self.tok.goal(goal, self.config.context)]

    def scores(self, seqs: list[list[int]], head: nn.Linear) -> torch.Tensor:
        h, last = self.hidden(seqs)
        return head(h[torch.arange(len(seqs), device=self.device), last]).squeeze(-1)

    def policy_logits(self, goal: str, actions: list[str]) -> torch.Tensor:
        return self.scores([self.policy_seq(goal, a) for a in actions], self.policy_head)

    def value(self, goals: list[str]) -> torch.Tensor:
        return torch.sigmoid(self.scores([self.value_seq(g) for g in goals], self.value_head))

    def conjecture_logits(self, tag: str, prefix: list[str]) -> torch.Tensor:
        """Next-token logits over the engine's vocabulary after `prefix`, given the tag."""
        h, last = self.hidden([self.tok.conjecture(tag, prefix, eos=False)])
        return self.lm_head(h[0, last[0]])[self.tok.conj_ids]

    def next_token(self, tag: str) -> NextToken:
        """The conjecturer as part 1's sampler wants it: prefix -> logits over the engine."""

        def logits(prefix: list[str]) -> np.ndarray:
            with torch.no_grad():
                return self.conjecture_logits(tag, prefix).double().cpu().numpy()

        return logits

    # --- losses ----------------------------------------------------------------------------
    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Conjecture LM cross-entropy + policy cross-entropy over each goal's actions + value
        binary cross-entropy; each term is 0 when the batch holds none of its kind."""
        zero = torch.zeros((), device=self.device)
        out = {"conjecture": zero, "policy": zero, "value": zero}
        if batch.conjectures:
            seqs = batch.conjectures
            h, _ = self.hidden(seqs)
            logits = self.lm_head(h[:, :-1])
            target = torch.full(logits.shape[:2], -100, dtype=torch.long)
            for i, s in enumerate(seqs):
                target[i, : len(s) - 1] = torch.tensor(s[1:])
            out["conjecture"] = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), target.reshape(-1).to(self.device)
            )
        if batch.policy:
            seqs = [self.policy_seq(g, a) for g, acts, _ in batch.policy for a in acts]
            flat = self.scores(seqs, self.policy_head)
            width = max(len(acts) for _, acts, _ in batch.policy)
            table = torch.full((len(batch.policy), width), -1e9, device=self.device)
            k = 0
            for i, (_, acts, _) in enumerate(batch.policy):
                table[i, : len(acts)] = flat[k : k + len(acts)]
                k += len(acts)
            target = torch.tensor([t for _, _, t in batch.policy], device=self.device)
            out["policy"] = F.cross_entropy(table, target)
        if batch.value:
            logit = self.scores([self.value_seq(g) for g, _ in batch.value], self.value_head)
            y = torch.tensor([float(v) for _, v in batch.value], device=self.device)
            out["value"] = F.binary_cross_entropy_with_logits(logit, y)
        out["total"] = out["conjecture"] + out["policy"] + out["value"]
        return out

    def state(self) -> dict:
        """Config and weights, on the CPU (a checkpoint loads on any machine)."""
        weights = {k: v.detach().cpu() for k, v in self.state_dict().items()}
        return {"config": asdict(self.config), "weights": weights}

    @classmethod
    def from_state(cls, state: dict) -> MinimoModel:
        cfg = dict(state["config"])
        cfg["conjecture_vocabulary"] = tuple(cfg["conjecture_vocabulary"])
        model = cls(ModelConfig(**cfg))
        model.load_state_dict(state["weights"])
        return model.to(device())


@dataclass
class Batch:
    """Training examples: conjecture token ids; (goal, actions, index of the action that
    worked); (goal, 1 if it was proved else 0)."""

    conjectures: list[list[int]]
    policy: list[tuple[str, list[str], int]]
    value: list[tuple[str, int]]


def device() -> torch.device:
    """A GPU when one is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def new_model(engine: CompletionEngine, seed: int, **sizes: int) -> MinimoModel:
    """A randomly initialised model for the domain of `engine` (seeded: same seed, same model)."""
    torch.manual_seed(seed)
    return MinimoModel(ModelConfig(tuple(engine.vocabulary), **sizes)).to(device())


class ModelScorer:
    """The model as part 1's search `Scorer`: one forward pass per expansion scores the
    actions and the goal together (the value is kept for the `value` call that follows).

    A model trained on a few hundred examples is overconfident, so the prior is flattened
    (`temperature`) and mixed with the uniform prior (`mix`), and the value is shrunk towards
    1/2 (`value_weight`); the defaults trust the model fully."""

    def __init__(
        self,
        model: MinimoModel,
        threads: int = 1,
        temperature: float = 1.0,
        mix: float = 0.0,
        value_weight: float = 1.0,
    ):
        self.model, self.threads = model.eval(), threads
        self.temperature, self.mix, self.value_weight = temperature, mix, value_weight
        self._values: dict[str, float] = {}

    def policy(self, goal: str, actions: list[str]) -> np.ndarray:
        torch.set_num_threads(self.threads)
        m = self.model
        seqs = [m.value_seq(goal), *(m.policy_seq(goal, a) for a in actions)]
        with torch.no_grad():
            h, last = m.hidden(seqs)
            top = h[torch.arange(len(seqs), device=m.device), last]
            self._values = {goal: float(torch.sigmoid(m.value_head(top[0])))}
            logits = m.policy_head(top[1:]).squeeze(-1).double() / self.temperature
        prior = torch.softmax(logits, 0).cpu().numpy()
        return (1.0 - self.mix) * prior + self.mix / len(actions)

    def value(self, goal: str) -> float:
        if goal not in self._values:
            with torch.no_grad():
                self._values[goal] = float(self.model.value([goal])[0])
        return 0.5 + self.value_weight * (self._values[goal] - 0.5)
