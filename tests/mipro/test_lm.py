"""The LM layer: call cache, accounting and budget, and the HTTP client against a stub server
on loopback that times out, fails with 500s and answers."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aether.mipro import BudgetExceededError, LMError
from aether.mipro.lm import CachedLM, CallCache, Decoding, OpenAICompatibleLM, ScriptedLM, Usage
from aether.mipro.lm.base import choice_grammar
from aether.mipro.lm.cache import call_key
from aether.mipro.program import ChainOfThought, Env, Predict, Signature


def test_cache_never_pays_twice_and_keys_on_every_part(tmp_path):
    inner = ScriptedLM(lambda prompt, d, r: f" {prompt}-{d.temperature}-{r}")
    lm = CachedLM(inner, CallCache(tmp_path / "calls.sqlite"))
    d = Decoding(temperature=0.0)
    first = lm.complete("p", d)
    assert lm.complete("p", d) == type(first)(
        first.text, first.prompt_tokens, first.completion_tokens, cached=True
    )
    assert len(inner.calls) == 1
    lm.complete("p", d, rollout=1)
    lm.complete("p", Decoding(temperature=0.5))
    lm.complete("q", d)
    assert len(inner.calls) == 4
    assert lm.usage.calls == 4 and lm.usage.cache_hits == 1
    # A new process (new cache object on the same file) finds every call.
    again = CachedLM(inner, CallCache(tmp_path / "calls.sqlite"))
    assert again.complete("p", d, rollout=1).cached and len(inner.calls) == 4


def test_closed_answers_key_apart_and_older_keys_stand():
    plain = Decoding(max_tokens=16)
    assert "choices" not in plain.key()  # caches paid before choices existed still hit
    closed = Decoding(max_tokens=16, choices=("yes", "no"))
    assert call_key("m", "p", closed, 0) != call_key("m", "p", plain, 0)
    assert choice_grammar(("yes", 'say "no"')) == 'root ::= " "? ("yes" | "say \\"no\\"")'
    with pytest.raises(ValueError, match="non-empty choices"):
        choice_grammar(("yes", ""))


def test_predict_closes_only_a_sole_label_field():
    seen = []
    lm = ScriptedLM(lambda prompt, d, r: seen.append(d.choices) or " maybe, I think no")
    label = Predict(Signature.parse("text -> label", label=("yes", "no")))
    assert label(Env(lm), text="t")["label"] == "no"  # free text still parses to a choice
    ChainOfThought(Signature.parse("text -> label", label=("yes", "no")))(Env(lm), text="t")
    assert seen == [("yes", "no"), ()]


def test_budget_stops_before_the_call_and_cached_calls_are_free(tmp_path):
    inner = ScriptedLM(lambda prompt, d, r: " ok")
    lm = CachedLM(inner, CallCache(tmp_path / "c.sqlite"), Usage(max_calls=2))
    lm.complete("a", Decoding())
    lm.complete("b", Decoding())
    with pytest.raises(BudgetExceededError, match="budget of 2"):
        lm.complete("c", Decoding())
    assert len(inner.calls) == 2
    lm.complete("a", Decoding())  # cached: allowed
    assert lm.usage.as_dict()["lm_cache_hits"] == 1


class Stub:
    """An OpenAI-compatible stub: each request takes the next scripted behaviour."""

    def __init__(self, behaviours: list[str]) -> None:
        self.behaviours = list(behaviours)
        self.requests: list[dict] = []
        self.active = 0
        self.max_active = 0
        lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    stub.requests.append({"path": self.path, **body})
                    what = stub.behaviours.pop(0) if stub.behaviours else "ok"
                    stub.active += 1
                    stub.max_active = max(stub.max_active, stub.active)
                try:
                    status, data = self._reply(what, body)
                finally:
                    # Out of flight before the reply is written: a client starts its next
                    # request only after reading this one's reply, so it can never count twice.
                    with lock:
                        stub.active -= 1
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(status, data)

            def _reply(self, what, body):
                if what == "slow":
                    time.sleep(4.0)
                if what == "500":
                    return 500, {"error": "boom"}
                if what == "400":
                    return 400, {"error": "bad request"}
                if what == "garbage":
                    return 200, {"nothing": True}
                if what == "busy":
                    time.sleep(0.2)
                chat = "messages" in body
                choice = {"message": {"content": "hi"}} if chat else {"text": " hello"}
                usage = {"prompt_tokens": 3, "completion_tokens": 1}
                return 200, {"choices": [choice], "usage": usage}

            def _send(self, status, data):
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub(request):
    server = Stub(getattr(request, "param", []))
    yield server
    server.close()


def client(url, **kw):
    return OpenAICompatibleLM(url, "stub-model", backoff_s=0.01, **kw)


@pytest.mark.parametrize("stub", [["500", "slow", "ok"]], indirect=True)
def test_http_retries_500_and_timeout_then_answers(stub):
    # A timeout far from both the stub's answer times: at load 20+ on 2 cores, 0.3 s timed out
    # the prompt answer too.
    lm = client(stub.url, timeout_s=1.5, max_retries=3)
    out = lm.complete("Say hi", Decoding(temperature=0.0, max_tokens=5, stop=("\n",)))
    assert out.text == " hello" and out.prompt_tokens == 3
    assert len(stub.requests) == 3
    sent = stub.requests[-1]
    assert sent["path"] == "/v1/completions" and sent["prompt"] == "Say hi"
    assert sent["max_tokens"] == 5 and sent["stop"] == ["\n"] and sent["model"] == "stub-model"


@pytest.mark.parametrize("stub", [["500", "500", "500"]], indirect=True)
def test_http_gives_up_with_one_clear_error(stub):
    with pytest.raises(LMError, match=r"failed after 3 attempts: HTTP 500"):
        client(stub.url, max_retries=2).complete("x", Decoding())


@pytest.mark.parametrize("stub", [["400"], ["garbage"]], indirect=True)
def test_http_does_not_retry_client_errors_or_bad_bodies(stub):
    with pytest.raises(LMError):
        client(stub.url, max_retries=3).complete("x", Decoding())
    assert len(stub.requests) == 1


def test_http_chat_api(stub):
    assert client(stub.url, api="chat").complete("x", Decoding()).text == "hi"
    assert stub.requests[0]["messages"] == [{"role": "user", "content": "x"}]


def test_http_sends_a_closed_answer_as_the_server_takes_it(stub):
    closed = Decoding(choices=("yes", "no"))
    for constrain in ("none", "grammar", "guided_choice"):
        client(stub.url, constrain=constrain).complete("x", closed)
    plain, grammar, guided = stub.requests
    assert "grammar" not in plain and "guided_choice" not in plain
    assert grammar["grammar"] == choice_grammar(("yes", "no"))
    assert guided["guided_choice"] == ["yes", "no"]


@pytest.mark.parametrize("stub", [["busy"] * 6], indirect=True)
def test_http_concurrency_limit(stub):
    lm = client(stub.url, max_concurrency=2)
    threads = [threading.Thread(target=lm.complete, args=(f"p{i}", Decoding())) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stub.requests) == 6 and stub.max_active <= 2


def test_unreachable_endpoint_is_one_clear_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LMError, match=r"unreachable.*server is running"):
        client(f"http://127.0.0.1:{port}/v1", max_retries=1).complete("x", Decoding())


def test_make_lm_selects_endpoint_from_env_or_params(monkeypatch):
    from aether.mipro.params import LMParams
    from aether.mipro.run import make_lm

    monkeypatch.setenv("AETHER_MIPRO_LM_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("AETHER_MIPRO_LM_MODEL", "m")
    lm = make_lm(LMParams())
    assert isinstance(lm, OpenAICompatibleLM) and lm.model == "m"
    monkeypatch.delenv("AETHER_MIPRO_LM_URL")
    with pytest.raises(ValueError, match="url is not set"):
        make_lm(LMParams(kind="http"))


def test_the_environment_selects_the_shared_lm(monkeypatch):
    """A process-wide LM is keyed by what params and environment resolve to, so a URL set
    (or unset) later is never served by an LM built for the earlier one."""
    from aether.mipro.params import MiproParams
    from tasks.mipro import shared_lm

    params = MiproParams(lm={"kind": "http", "url": "http://127.0.0.1:1/v1", "model": "a"})
    from_params = shared_lm(params)
    monkeypatch.setenv("AETHER_MIPRO_LM_URL", "http://127.0.0.1:2/v1")
    monkeypatch.setenv("AETHER_MIPRO_LM_MODEL", "b")
    from_env = shared_lm(params)
    assert from_env is not from_params and from_env.model == "b"
    assert shared_lm(params) is from_env
    monkeypatch.delenv("AETHER_MIPRO_LM_URL")
    assert shared_lm(params) is from_params


def test_caches_opened_together_on_one_file_all_open(tmp_path):
    """Optimizer tasks in parallel open the same call cache at once; none may fail."""
    import threading

    from aether.mipro.lm.cache import CallCache

    for round_ in range(20):
        path, barrier, errors = tmp_path / f"{round_}.sqlite", threading.Barrier(4), []

        def open_cache(path=path, barrier=barrier, errors=errors):
            barrier.wait()
            try:
                CallCache(path).close()
            except Exception as exc:  # collected, asserted below
                errors.append(exc)

        threads = [threading.Thread(target=open_cache) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
