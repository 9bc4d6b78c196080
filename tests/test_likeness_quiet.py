"""Quiet capture: MediaPipe / TensorFlow Lite / absl native log lines never reach the
terminal, while citywalk's own stderr lines (progress, warnings) still do."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from citywalk.likeness import capture as cap
from citywalk.likeness.quiet import native_stderr_silenced

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from skimage import data
    from citywalk.likeness.capture import capture_actor

    def progress(frac, stage):
        print(f"citywalk: capture {stage} {frac:.2f}", file=sys.stderr)

    img = data.astronaut()
    photo = capture_actor(img, 1.7, method="mediapipe", progress=progress)
    clip = np.stack([np.roll(img, 4 * i, axis=1) for i in range(4)])
    video = capture_actor(clip, 1.7, method="mediapipe", progress=progress)
    print("citywalk: done", photo.method, video.method, file=sys.stderr)
    print("stdout ok")
""")


@pytest.mark.skipif(not cap.mediapipe_available(), reason="mediapipe not installed")
def test_capture_in_a_subprocess_prints_only_citywalk_lines_on_stderr():
    pytest.importorskip("skimage.data")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, env=env,
                         cwd=ROOT)
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    foreign = [ln for ln in lines if not ln.startswith("citywalk: ")]
    assert not foreign, "third-party lines reached stderr:\n" + "\n".join(foreign)
    assert lines[-1] == "citywalk: done still-mediapipe mediapipe"
    assert any("capture frames" in ln for ln in lines)  # our own lines were not swallowed
    assert res.stdout.strip() == "stdout ok"


def test_silencing_discards_fd2_but_keeps_python_stderr_and_restores(tmp_path):
    """Native writes to fd 2 vanish inside the block; Python's sys.stderr still goes to the
    original fd 2; afterwards fd 2 is the original again (also after an error)."""
    script = textwrap.dedent("""
        import os, sys
        from citywalk.likeness.quiet import native_stderr_silenced
        os.write(2, b"native before\\n")
        try:
            with native_stderr_silenced():
                with native_stderr_silenced():
                    os.write(2, b"native inside\\n")
                print("python inside", file=sys.stderr)
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        os.write(2, b"native after\\n")
        print("python after", file=sys.stderr)
    """)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines() == ["native before", "python inside", "native after", "python after"]


def test_silencing_is_harmless_without_a_real_stderr(capsys):
    """Under a console without fd 2 behind sys.stderr (pytest's capsys), Python output is untouched."""
    with native_stderr_silenced():
        print("still captured", file=sys.stderr)
    assert "still captured" in capsys.readouterr().err
