"""May pretrained weights be fetched from the Hugging Face hub? Decided within seconds.

huggingface_hub's own settings are the switches: ``HF_HUB_OFFLINE=1`` (or
``TRANSFORMERS_OFFLINE=1``) turns downloads off, ``HF_ENDPOINT`` names the hub (default
https://huggingface.co), ``HF_HOME`` the cache the files go to. What this module adds is a
probe: before the first download of a process, one request to the endpoint that must be
answered within :data:`PROBE_TIMEOUT` seconds. A hub that does not answer counts as
unreachable for the rest of the process, so that callers fall back to local weights at
once (huggingface_hub alone would retry a dead endpoint for about a minute).

Used by both ``perception`` (CLIP weights) and ``planner`` (FLAN-T5), which already reads
perception's caption vocabulary; this module imports neither of them, nor torch.
"""
from __future__ import annotations

import functools
import os
import sys
import threading
import urllib.error
import urllib.request

OFFLINE_VARS: tuple[str, ...] = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
"""Environment variables that turn the hub off (huggingface_hub and transformers read them)."""
DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_TIMEOUT = 3.0
"""Seconds the hub has to answer the probe (connection, DNS and response included)."""
OFFLINE_HINT = "--offline or HF_HUB_OFFLINE=1"
"""How downloads were turned off, as said in messages."""
HF_CACHE_HINT = "the Hugging Face cache (~/.cache/huggingface or $HF_HOME)"
"""Where the libraries keep downloaded weights, as said in messages."""
_TRUE = frozenset({"1", "ON", "YES", "TRUE"})  # huggingface_hub's reading of a boolean variable


def offline_requested() -> bool:
    """Whether ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` is set (read now, not at import)."""
    return any(os.environ.get(name, "").strip().upper() in _TRUE for name in OFFLINE_VARS)


def go_offline() -> None:
    """Turn downloads off for this process and the processes it starts (``--offline``).

    huggingface_hub reads ``HF_HUB_OFFLINE`` once, when imported (transformers asks it), so
    an already imported huggingface_hub is told too.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


def endpoint() -> str:
    """The hub the libraries download from: ``$HF_ENDPOINT`` or https://huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def download_blocker() -> str | None:
    """Why nothing can be downloaded now, in a few words, or None if the hub answers.

    No request is made when downloads are off; otherwise the endpoint is probed once per
    process (:func:`probe`).
    """
    if offline_requested():
        return f"downloads are off ({OFFLINE_HINT})"
    url = endpoint()
    why = probe(url)
    return None if why is None else f"the hub at {url} is unreachable ({why})"


@functools.lru_cache(maxsize=None)
def probe(url: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None if ``url`` answers an HTTP request within ``timeout`` s (any status), else why not.

    The request runs in a daemon thread so that a slow name lookup cannot hold the caller
    longer than ``timeout`` either. Cached per URL for the life of the process.
    """
    outcome: list[str | None] = []
    silent = f"no answer within {timeout:g} s"

    def ask() -> None:
        request = urllib.request.Request(url + "/", method="HEAD",
                                         headers={"User-Agent": "langstack-hub-probe"})
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                outcome.append(None)
        except urllib.error.HTTPError:  # an answer, even 4xx/5xx: the server is there
            outcome.append(None)
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused, bad URL
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):  # socket.timeout is TimeoutError
                outcome.append(silent)
            else:
                outcome.append(" ".join(str(reason).split()) or type(exc).__name__)

    thread = threading.Thread(target=ask, name="langstack-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else silent


def fetch_advice() -> str:
    """How to get weights that were not downloaded (one clause, for messages)."""
    how = "run once with internet"
    if offline_requested():
        how += ", without --offline and with HF_HUB_OFFLINE unset"
    return f"{how} (they are downloaded into {HF_CACHE_HINT})"
