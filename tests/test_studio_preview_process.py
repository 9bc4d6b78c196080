"""The preview process outlives the request thread that happened to start it: it asks Linux to kill
it when its parent dies, and Linux counts the *thread* that forked it as the parent, so it must be
started from a thread that lives as long as the server (the web server's worker threads come and go)."""

import sys
import threading
import time

import pytest

from citywalk.errors import CitywalkError
from citywalk.studio.preview import PreviewService


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_preview_process_survives_the_thread_that_started_it():
    svc = PreviewService((160, 90), timeout_s=120)
    errors = []

    def ask():
        try:
            svc.render({"scene": {"style": 5}}, 0.0)  # a bad Shot: answered at once, after the process is up
        except CitywalkError as exc:
            errors.append(exc)

    try:
        t = threading.Thread(target=ask)
        t.start()
        t.join(120)
        assert errors, "the preview process did not answer"
        time.sleep(1.0)
        assert svc.proc.poll() is None, f"the preview process died with its starting thread (rc {svc.proc.returncode})"
        assert svc.stats["restarts"] == 0
        svc.close()
        assert svc.proc is None
        ask()  # a closed service starts afresh on the next request
        assert len(errors) == 2 and svc.proc.poll() is None
    finally:
        svc.close()
