"""What the demo prints: each child process (training, lmms-eval, chat) writes its full output to a log file in the
run folder, and the terminal shows one progress bar that follows the ``n/total`` counters of that log."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

COUNTER = re.compile(rb"\|\s*(\d+)/(\d+) \[")


class LogProgress:
    """A tqdm bar following the longest ``| n/total [`` counter in the tail of ``log`` (polled in a thread); bars of
    children that run side by side take one terminal line each (``position``)."""

    def __init__(self, log: Path, desc: str, unit: str = "step", interval: float = 0.5, position: int = 0):
        self.log, self.desc, self.unit, self.interval, self.position = log, desc, unit, interval, position
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._bar = None

    def __enter__(self) -> LogProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._poll(final=True)
        if self._bar is not None:
            self._bar.close()

    def _follow(self) -> None:
        while not self._stop.wait(self.interval):
            self._poll()

    def _poll(self, final: bool = False) -> None:
        from tqdm.auto import tqdm

        try:
            tail = self.log.read_bytes()[-4096:]
        except OSError:
            return
        largest = max((int(total) for _, total in COUNTER.findall(tail)), default=0)
        if not largest or (self._bar is not None and largest < self._bar.total):
            return  # the main loop is the longest bar; short ones (loading weights, writing shards) are skipped
        done = max(int(n) for n, total in COUNTER.findall(tail) if int(total) == largest)
        total = largest
        if self._bar is None or self._bar.total != total:
            if self._bar is not None:
                self._bar.close()
            self._bar = tqdm(total=total, desc=self.desc, unit=self.unit, position=self.position)
        self._bar.update(done - self._bar.n)


def run_logged(command: list[str], log: Path, desc: str, unit: str = "step") -> int:
    """Run ``command`` with its stdout and stderr going to ``log``; a progress bar shows how far it got."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink, LogProgress(log, desc, unit):
        sink.write(("$ " + " ".join(command) + "\n").encode())
        sink.flush()
        return subprocess.call(command, stdout=sink, stderr=subprocess.STDOUT)


def last_line(log: Path, prefix: str) -> str | None:
    """The last line of ``log`` starting with ``prefix`` (a child's summary line), if any."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    return next((line for line in reversed(lines) if line.startswith(prefix)), None)
