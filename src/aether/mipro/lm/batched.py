"""The embedded model with batched decoding: calls that arrive together (an evaluation's
threads) are decoded together in one llama.cpp context, one sequence id each.

Off by default (`mipro.lm.batch: 1`) because it does not pay here: on this machine's 2 quiet
cores, 16 MIPRO-like calls took 5.6-6.0 s one at a time through `LlamaCppLM` and 7.0-7.4 s
decoded 8 at a time (0.76-0.86x; `benchmarks/lm_batch_bench.py`, `reports/mipro/lm_batch.json`).
ggml's CPU kernels for quantized weights do one dot product per (row, sequence), so a step for
eight sequences costs about eight steps for one, and each batched prompt is prefilled whole,
while `LlamaCppLM` reuses the KV cache of the prompt prefix that calls share. It is kept,
measurable, for machines whose kernels do reuse weights across a batch.

A worker thread owns the context: it takes up to `batch` queued calls, prefills all their
prompts in one `llama_decode`, then decodes one token per live sequence per step, each
sequence with its own sampler (a closed answer's grammar first, then greedy, or the same
top-k / top-p / min-p / temperature chain and seed rule as `LlamaCppLM`), stop strings and
token limit. Numbers depend slightly on what a call was batched with (the kernels differ with
the batch width), so a greedy text can part from an unbatched one after some tokens; the call
cache keeps whichever was paid first.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from aether.mipro.errors import LMError
from aether.mipro.lm.base import Completion, Decoding, choice_grammar
from aether.mipro.lm.embedded import load_llama, smollm2_path


@dataclass
class _Call:
    prompt: str
    decoding: Decoding
    rollout: int
    future: Future = field(default_factory=Future)


@dataclass
class _Seq:
    """One call's sequence while it decodes."""

    call: _Call
    tokens: list[int]
    sampler: object
    pos: int = 0
    row: int = -1  # its logits' index in the last decoded batch
    out: list[int] = field(default_factory=list)
    text: bytes = b""
    done: bool = False


class BatchedLlamaCppLM:
    """A GGUF model in-process whose concurrent calls share decoding steps (up to `batch`)."""

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        batch: int = 8,
        n_ctx: int = 2048,
        n_threads: int = 1,
        gather_s: float = 0.005,
    ) -> None:
        path = Path(model_path) if model_path else smollm2_path()
        self._llm = load_llama(path, n_ctx=64, n_threads=n_threads)  # model and tokenizer
        import llama_cpp

        self._c = llama_cpp
        self.model = path.stem
        # After the first queued call, the worker waits up to `gather_s` for more to batch.
        self.batch, self.n_ctx, self.gather_s = batch, n_ctx, gather_s
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = params.n_batch = n_ctx * batch  # every sequence may fill its share
        params.n_ubatch = 512
        params.n_seq_max = batch
        params.n_threads = params.n_threads_batch = n_threads
        params.kv_unified = True
        self._ctx = llama_cpp.llama_init_from_model(self._llm._model.model, params)
        if not self._ctx:
            raise LMError(f"llama.cpp could not make a context for {batch} sequences")
        self._vocab = llama_cpp.llama_model_get_vocab(self._llm._model.model)
        self._batch = llama_cpp.llama_batch_init(n_ctx * batch, 0, 1)
        self.steps = 0  # llama_decode calls made, prefills included (for tests and benchmarks)
        self.rounds = 0  # batches of calls taken from the queue
        self._queue: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="llama-batch", daemon=True).start()

    def complete(self, prompt: str, decoding: Decoding, rollout: int = 0) -> Completion:
        call = _Call(prompt, decoding, rollout)
        self._queue.put(call)
        return call.future.result()

    # -- the worker -------------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            calls = [self._queue.get()]
            try:
                while len(calls) < self.batch:
                    calls.append(self._queue.get(timeout=self.gather_s))
            except queue.Empty:
                pass
            seqs = []
            for c in calls:
                try:
                    seqs.append(self._start(c))
                except LMError as exc:  # this call's own error; the others still run
                    c.future.set_exception(exc)
            try:
                if seqs:
                    self._run(seqs)
            except BaseException as exc:  # every waiting caller gets the error, none hangs
                for s in seqs:
                    if not s.call.future.done():
                        s.call.future.set_exception(exc)

    def _start(self, call: _Call) -> _Seq:
        tokens = self._llm.tokenize(call.prompt.encode(), add_bos=True)
        if len(tokens) + call.decoding.max_tokens > self.n_ctx:
            raise LMError(
                f"prompt of {len(tokens)} tokens plus {call.decoding.max_tokens} new ones "
                f"exceeds the context of {self.n_ctx}"
            )
        return _Seq(call, tokens, self._sampler(call.decoding, call.rollout))

    def _sampler(self, decoding: Decoding, rollout: int):
        c = self._c
        chain = c.llama_sampler_chain_init(c.llama_sampler_chain_default_params())
        if decoding.choices:  # first: the samplers after it see only the allowed tokens
            grammar = choice_grammar(decoding.choices).encode()
            c.llama_sampler_chain_add(
                chain, c.llama_sampler_init_grammar(self._vocab, grammar, b"root")
            )
        if decoding.temperature <= 0.0:
            c.llama_sampler_chain_add(chain, c.llama_sampler_init_greedy())
            return chain
        for s in (
            c.llama_sampler_init_top_k(40),
            c.llama_sampler_init_top_p(0.95, 1),
            c.llama_sampler_init_min_p(0.05, 1),
            c.llama_sampler_init_temp(decoding.temperature),
            c.llama_sampler_init_dist(decoding.sampling_seed(rollout)),
        ):
            c.llama_sampler_chain_add(chain, s)
        return chain

    def _add(self, token: int, pos: int, seq: int, logits: bool) -> int:
        b = self._batch
        i = b.n_tokens
        b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, logits
        b.seq_id[i][0] = seq
        b.n_tokens = i + 1
        return i

    def _decode(self) -> None:
        status = self._c.llama_decode(self._ctx, self._batch)
        self.steps += 1
        if status != 0:
            raise LMError(f"llama_decode failed with status {status}")

    def _run(self, seqs: list[_Seq]) -> None:
        c = self._c
        self.rounds += 1
        c.llama_memory_clear(c.llama_get_memory(self._ctx), True)
        self._batch.n_tokens = 0
        for sid, s in enumerate(seqs):  # prefill: every prompt in one batch
            for j, token in enumerate(s.tokens):
                s.row = self._add(token, j, sid, j == len(s.tokens) - 1)
            s.pos = len(s.tokens)
        try:
            self._decode()
            while True:
                self._batch.n_tokens = 0
                for sid, s in enumerate(seqs):
                    if not s.done:
                        self._step(s, sid)
                if self._batch.n_tokens == 0:
                    break
                self._decode()
        finally:
            for s in seqs:
                c.llama_sampler_free(s.sampler)
        for s in seqs:
            s.call.future.set_result(Completion(self._text(s), len(s.tokens), len(s.out)))

    def _step(self, s: _Seq, sid: int) -> None:
        """Sample the sequence's next token; queue it for the next step unless it ends there."""
        c = self._c
        token = c.llama_sampler_sample(s.sampler, self._ctx, s.row)
        if c.llama_vocab_is_eog(self._vocab, token):
            s.done = True
            return
        s.out.append(token)
        s.text += self._llm.detokenize([token])
        stop = s.call.decoding.stop
        if len(s.out) >= s.call.decoding.max_tokens or (
            stop and any(x in s.text.decode(errors="ignore") for x in stop)
        ):
            s.done = True
            return
        s.row = self._add(token, s.pos, sid, True)
        s.pos += 1

    @staticmethod
    def _text(s: _Seq) -> str:
        text = s.text.decode(errors="ignore")
        cuts = [text.index(x) for x in s.call.decoding.stop if x in text]
        return text[: min(cuts)] if cuts else text
