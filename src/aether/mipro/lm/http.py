"""Any OpenAI-compatible endpoint (vLLM, llama.cpp server, Ollama, hosted APIs).

Timeouts, retries with exponential back-off on transient failures (connection errors,
timeouts, 429 and 5xx), and a cap on concurrent requests; anything else is one `LMError`.
A closed answer (`Decoding.choices`) is sent as the server asks for one (`constrain`): the
APIs disagree (llama.cpp's `grammar`, vLLM's `guided_choice`, nothing on hosted APIs), so by
default it is not sent, and a served model writes free text that the predictor parses to a
choice.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Literal

import httpx

from aether.mipro.errors import LMError
from aether.mipro.lm.base import Completion, Decoding, choice_grammar

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAICompatibleLM:
    """`/v1/completions` (plain prompts) or `/v1/chat/completions` (one user message)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api: Literal["completions", "chat"] = "completions",
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_concurrency: int = 4,
        constrain: Literal["none", "grammar", "guided_choice"] = "none",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.constrain = constrain
        self.model = model
        self.api = api
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._slots = threading.BoundedSemaphore(max_concurrency)
        key = os.environ.get(api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), headers=headers)

    def _payload(self, prompt: str, decoding: Decoding) -> tuple[str, dict]:
        body = {
            "model": self.model,
            "temperature": decoding.temperature,
            "max_tokens": decoding.max_tokens,
            "seed": decoding.seed,
        }
        if decoding.stop:
            body["stop"] = list(decoding.stop)
        if decoding.choices and self.constrain == "grammar":
            body["grammar"] = choice_grammar(decoding.choices)
        elif decoding.choices and self.constrain == "guided_choice":
            body["guided_choice"] = list(decoding.choices)
        if self.api == "chat":
            return "/chat/completions", {**body, "messages": [{"role": "user", "content": prompt}]}
        return "/completions", {**body, "prompt": prompt}

    def complete(self, prompt: str, decoding: Decoding, rollout: int = 0) -> Completion:
        path, body = self._payload(prompt, decoding)
        url = self.base_url + path
        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                with self._slots:
                    response = self._client.post(url, json=body)
            except httpx.TimeoutException:
                last = "timed out"
                continue
            except httpx.TransportError as exc:
                last = f"unreachable ({type(exc).__name__}: {exc})"
                continue
            if response.status_code in RETRYABLE_STATUS:
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code != 200:
                raise LMError(f"{url} answered HTTP {response.status_code}: {response.text[:200]}")
            return self._parse(url, response)
        raise LMError(
            f"LM endpoint {url} failed after {self.max_retries + 1} attempts: {last}. "
            "Check that the server is running and the URL (mipro.lm.url) is right."
        )

    def _parse(self, url: str, response: httpx.Response) -> Completion:
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"]["content"] if self.api == "chat" else choice["text"]
            usage = data.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LMError(f"{url} returned an unexpected body: {response.text[:200]}") from exc
        return Completion(
            text or "", int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        )

    def close(self) -> None:
        self._client.close()
