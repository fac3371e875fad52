"""One small transformer for everything Minimo learns: the conjecturer (a language model over
the completion engine's tokens, conditioned on a difficulty tag), the policy (a score for each
action text at a goal) and the value (the probability that a goal is provable).

Goals and actions are read character by character (a goal's last `context` characters, where
its target is, then each action's first `action_context`); conjectures are written token by
token in the engine's vocabulary, so the constrained-decoding mask applies to the model's
logits directly. The policy and value heads start at zero: an untrained model is the uniform
scorer. In search, one expansion is one pass: the goal is encoded once and all its actions
are scored in a batch against the goal's cached keys and values (`policy_value`).
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
    context: int = 64  # characters of a goal read (its last ones: the target)
    action_context: int = 32  # characters of an action read (its first ones)


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

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Causal self-attention, after the keys and values of a shared prefix (`past`, batch
        1) when given; returns the new states and this input's own keys and values."""
        b, n, d = x.shape
        q, k, v = (
            t.transpose(1, 2)
            for t in self.qkv(self.ln1(x)).view(b, n, 3, self.heads, d // self.heads).unbind(2)
        )
        if past is None:
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            pk, pv = past
            m = pk.shape[2]
            keys = torch.cat([pk.expand(b, -1, -1, -1), k], 2)
            vals = torch.cat([pv.expand(b, -1, -1, -1), v], 2)
            mask = torch.ones(n, m + n, dtype=torch.bool, device=x.device).tril(m)
            att = F.scaled_dot_product_attention(q, keys, vals, attn_mask=mask)
        x = x + self.out(att.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.ln2(x)), (k, v)


class MinimoModel(nn.Module):
    """A causal transformer with three heads: next token, action score, goal value."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.tok = Tokenizer(config.conjecture_vocabulary)
        d = config.d_model
        self.embed = nn.Embedding(self.tok.size, d)
        self.pos = nn.Embedding(self.max_len, d)
        self.blocks = nn.ModuleList(Block(d, config.n_heads) for _ in range(config.n_layers))
        self.ln = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, self.tok.size)
        self.policy_head, self.value_head = nn.Linear(d, 1), nn.Linear(d, 1)
        for head in (self.policy_head, self.value_head):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    @property
    def max_len(self) -> int:
        """<policy>, the goal's last `context` characters, <sep>, the action's first
        `action_context` characters."""
        return self.config.context + self.config.action_context + 2

    @property
    def device(self) -> torch.device:
        return self.embed.weight.device

    def hidden(self, seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden states of right-padded sequences, and each sequence's last position."""
        limit = self.max_len
        seqs = [s[:limit] for s in seqs]
        n = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), n), PAD, dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
        ids = ids.to(self.device)
        x = self.embed(ids) + self.pos(torch.arange(n, device=self.device))
        for block in self.blocks:
            x, _ = block(x)
        last = torch.tensor([len(s) - 1 for s in seqs], device=self.device)
        return self.ln(x), last

    # --- the three heads -------------------------------------------------------------------
    def prefix_seq(self, goal: str) -> list[int]:
        """What the policy and the value read of a goal; the value head reads its last token,
        the policy head the last token of each action appended to it."""
        ids = self.tok.ids
        return [ids["<policy>"], *self.tok.goal(goal, self.config.context), ids["<sep>"]]

    def action_ids(self, action: str) -> list[int]:
        return self.tok.chars(action[: self.config.action_context]) or [self.tok.ids["<pad>"]]

    def policy_seq(self, goal: str, action: str) -> list[int]:
        return [*self.prefix_seq(goal), *self.action_ids(action)]

    def value_seq(self, goal: str) -> list[int]:
        return self.prefix_seq(goal)

    def scores(self, seqs: list[list[int]], head: nn.Linear) -> torch.Tensor:
        h, last = self.hidden(seqs)
        return head(h[torch.arange(len(seqs), device=self.device), last]).squeeze(-1)

    def policy_logits(self, goal: str, actions: list[str]) -> torch.Tensor:
        return self.scores([self.policy_seq(goal, a) for a in actions], self.policy_head)

    def value(self, goals: list[str]) -> torch.Tensor:
        return torch.sigmoid(self.scores([self.value_seq(g) for g in goals], self.value_head))

    def policy_value(self, goal: str, actions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Action logits and the goal's value logit in one pass: the goal prefix is encoded
        once and every action attends to its cached keys and values (the same numbers as
        `policy_logits` / `value` on the full sequences, at a fraction of the cost)."""
        dev = self.device
        prefix = torch.tensor(self.prefix_seq(goal), device=dev)
        m = len(prefix)
        x = self.embed(prefix)[None] + self.pos(torch.arange(m, device=dev))
        pasts = []
        for block in self.blocks:
            x, kv = block(x)
            pasts.append(kv)
        value = self.value_head(self.ln(x[0, -1])).squeeze(-1)
        if not actions:
            return torch.zeros(0, device=dev), value
        acts = [self.action_ids(a) for a in actions]
        n = max(len(a) for a in acts)
        ids = torch.full((len(acts), n), PAD, dtype=torch.long)
        for i, a in enumerate(acts):
            ids[i, : len(a)] = torch.tensor(a)
        y = self.embed(ids.to(dev)) + self.pos(torch.arange(m, m + n, device=dev))
        for block, past in zip(self.blocks, pasts, strict=True):
            y, _ = block(y, past)
        last = torch.tensor([len(a) - 1 for a in acts], device=dev)
        top = self.ln(y[torch.arange(len(acts), device=dev), last])
        return self.policy_head(top).squeeze(-1), value

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
    """The model as part 1's search `Scorer`: one pass per expansion scores the actions and
    the goal together (the goal's prefix encoded once, the actions batched against its cached
    keys and values); the value is kept for the `value` call that follows.

    A model trained on a few hundred examples is overconfident, so the prior can be flattened
    (`temperature`) and mixed with the uniform prior (`mix`), and the value shrunk towards
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
        if len(actions) == 1 and self.value_weight == 0.0:
            return np.ones(1)  # nothing to choose and no value wanted: skip the model
        torch.set_num_threads(self.threads)
        with torch.inference_mode():
            logits, value = self.model.policy_value(goal, actions)
        if len(self._values) > 100_000:
            self._values.clear()
        self._values[goal] = float(torch.sigmoid(value))
        prior = torch.softmax(logits.double() / self.temperature, 0).cpu().numpy()
        return (1.0 - self.mix) * prior + self.mix / len(actions)

    def value(self, goal: str) -> float:
        if goal not in self._values:
            with torch.inference_mode():
                self._values[goal] = float(self.model.value([goal])[0])
        return 0.5 + self.value_weight * (self._values[goal] - 0.5)
