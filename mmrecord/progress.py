"""A one-line progress bar on standard error, shown only on a terminal.

Small on purpose: a percentage, a bar, the amount done, the rate and the time
left, redrawn at most ten times a second, and nothing at all when standard
error is not a terminal (a pipe, a file, a CI log) unless forced.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _human(n: float, unit: str) -> str:
    if unit != "B":
        return f"{n:,.0f}{unit}"
    for prefix in ("", "k", "M", "G", "T"):
        if abs(n) < 1000 or prefix == "T":
            return f"{n:.1f}{prefix}B" if prefix else f"{n:.0f}B"
        n /= 1000
    return f"{n}B"


class Progress:
    """``update(done)`` with an absolute amount; ``close()`` clears the line.

    ``enabled=None`` shows the bar when ``stream`` is a terminal.
    """

    def __init__(self, total: int | None, label: str = "", unit: str = "B", *,
                 enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled
        self.total, self.label, self.unit = total, label, unit
        self.start = self._last = time.monotonic()
        self.done = 0
        self._width = 0

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.1:
            self._last = now
            self._draw(now)

    def advance(self, amount: int) -> None:
        self.update(self.done + amount)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        text = f"{self.label} " if self.label else ""
        if self.total:
            fraction = min(1.0, self.done / self.total)
            filled = int(fraction * 24)
            # The time left once the rate means something.
            left = f" {(self.total - self.done) / rate:.0f}s left" if rate > 0 and elapsed >= 1 else ""
            text += (f"{fraction:4.0%} |{'#' * filled}{'.' * (24 - filled)}| "
                     f"{_human(self.done, self.unit)}/{_human(self.total, self.unit)} "
                     f"{_human(rate, self.unit)}/s{left}")
        else:
            text += f"{_human(self.done, self.unit)} {_human(rate, self.unit)}/s"
        pad = max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
        self._width = 0

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
