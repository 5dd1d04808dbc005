"""A stand-in Hugging Face hub on loopback: a real HTTP server for the download tests.

It implements the part of the hub's HTTP API that ``huggingface_hub`` (``hf_hub_download``,
``snapshot_download``) and transformers use to fetch a model: ``HEAD``/``GET
/{repo}/resolve/{revision}/{filename}`` with the ``X-Repo-Commit``, ``ETag``,
``X-Linked-Etag`` and ``Content-Length`` headers huggingface_hub reads (its
``file_download.get_hf_file_metadata``), a 404 with ``X-Error-Code: EntryNotFound`` (or
``RepoNotFound``) for what is not there, and the model info / file listing endpoints
``/api/models/{repo}[/revision/{rev}]`` and ``/api/models/{repo}/tree/{rev}``.
Repos are folders on disk; every request is logged (``requests``).

:class:`SilentServer` is the opposite: it accepts connections and never answers.
"""
from __future__ import annotations

import hashlib
import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"
"""The one revision every stand-in repo has (a 40-hex commit id, as the hub sends)."""


class StandInHub:
    """Serve ``repos`` (repo id -> folder) at ``self.url`` until :meth:`close`."""

    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = {rid: Path(folder) for rid, folder in repos.items()}
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
                hub._answer(self, body=False)

            def do_GET(self) -> None:  # noqa: N802
                hub._answer(self, body=True)

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def downloads(self) -> list[str]:
        """Paths of the files sent with GET (the actual downloads)."""
        return [p for m, p in self.requests if m == "GET" and "/resolve/" in p]

    def _files(self, repo: str) -> dict[str, Path]:
        root = self.repos[repo]
        return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}

    def _answer(self, req: BaseHTTPRequestHandler, body: bool) -> None:
        path = urllib.parse.urlsplit(req.path).path
        self.requests.append((req.command, path))
        if path.startswith("/api/models/"):
            self._api(req, path[len("/api/models/"):], body)
        elif "/resolve/" in path:
            repo, _, rest = path.lstrip("/").partition("/resolve/")
            _revision, _, filename = rest.partition("/")
            self._resolve(req, urllib.parse.unquote(repo), urllib.parse.unquote(filename), body)
        elif path == "/":
            self._send(req, 200, b"stand-in hub", {"Content-Type": "text/plain"}, body)
        else:
            self._send(req, 404, b"not found", {"X-Error-Code": "RepoNotFound"}, body)

    def _resolve(self, req: BaseHTTPRequestHandler, repo: str, filename: str,
                 body: bool) -> None:
        if repo not in self.repos:
            self._send(req, 404, b"Repository not found", {"X-Error-Code": "RepoNotFound"}, body)
            return
        file = self._files(repo).get(filename)
        if file is None:
            self._send(req, 404, b"Entry not found", {"X-Error-Code": "EntryNotFound",
                                                      "X-Repo-Commit": COMMIT}, body)
            return
        data = file.read_bytes()
        etag = f'"{hashlib.sha256(data).hexdigest()}"'
        self._send(req, 200, data, {"X-Repo-Commit": COMMIT, "ETag": etag, "X-Linked-Etag": etag,
                                    "Content-Type": "application/octet-stream"}, body)

    def _api(self, req: BaseHTTPRequestHandler, rest: str, body: bool) -> None:
        """``{repo}``, ``{repo}/revision/{rev}`` (model info) or ``{repo}/tree/{rev}``."""
        for marker in ("/revision/", "/tree/"):
            repo, found, _ = rest.partition(marker)
            if found:
                break
        else:
            repo, marker = rest.rstrip("/"), ""
        repo = urllib.parse.unquote(repo)
        if repo not in self.repos:
            self._send(req, 404, b'{"error": "Repository not found"}',
                       {"X-Error-Code": "RepoNotFound", "Content-Type": "application/json"}, body)
            return
        files = self._files(repo)
        if marker == "/tree/":
            doc: Any = [{"type": "file", "path": name, "size": f.stat().st_size,
                         "oid": hashlib.sha1(f.read_bytes()).hexdigest()}
                        for name, f in files.items()]
        else:
            doc = {"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                   "siblings": [{"rfilename": name, "size": f.stat().st_size}
                                for name, f in files.items()]}
        self._send(req, 200, json.dumps(doc).encode(), {"Content-Type": "application/json"},
                   body)

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str],
              body: bool) -> None:
        req.send_response(status)
        for key, value in headers.items():
            req.send_header(key, value)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        if body:
            req.wfile.write(data)


class SilentServer:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        """Close the port."""
        self.sock.close()


def hub_env(base: dict[str, str], endpoint: str, home: Path) -> dict[str, str]:
    """``base`` with the hub pointed at ``endpoint``, its cache under ``home`` and downloads on."""
    env = {k: v for k, v in base.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE",
                        "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE", "HF_TOKEN")}
    env.update({"HF_ENDPOINT": endpoint, "HF_HOME": str(home),
                "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
                "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1"})
    return env
