"""Ctrl-C during training: finish the round, commit it, then stop (``--resume`` goes on)."""
from __future__ import annotations

import signal
import sys
import threading
from typing import Any


class InterruptFlag:
    """Ctrl-C ends training after the current round (a second Ctrl-C interrupts at once).

    Raising mid-round could leave Ray actors with work in flight; with several actors an
    interrupt arriving there was seen to be lost, and the run went on."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> "InterruptFlag":
        """Catch SIGINT (only possible from the main thread; elsewhere a no-op)."""
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.restore()

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        print("\ninterrupted: finishing this round (Ctrl-C again to stop at once)",
              file=sys.stderr, flush=True)
        self.restore()

    def restore(self) -> None:
        """Put the previous SIGINT handler back."""
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
