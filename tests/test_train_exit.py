"""A launched training rank ends through `exit_now`: its exit code kept, interpreter teardown skipped, atexit run."""

from __future__ import annotations

import subprocess
import sys


def test_exit_now_runs_atexit_handlers_and_keeps_the_code(tmp_path):
    marker = tmp_path / "uploaded"
    code = (
        "import atexit, pathlib\n"
        "from ov_vlm.train.run import exit_now\n"
        f"atexit.register(pathlib.Path({str(marker)!r}).write_text, 'done')\n"
        "atexit.register(lambda: 1 / 0)\n"  # a failing handler is reported, not fatal
        "print('trained', flush=True)\n"
        "exit_now(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert marker.read_text() == "done" and "trained" in done.stdout
