"""`import citywalk` (and the light stages) must not load torch, GL, codecs or other heavy modules."""

import subprocess
import sys

HEAVY = ["torch", "moderngl", "av", "mediapipe", "trimesh", "osmium", "ray", "diffusers", "fastapi", "cv2"]


def test_import_citywalk_is_light():
    code = (
        "import sys, citywalk, citywalk.shot, citywalk.prompt, citywalk.scene, citywalk.render, citywalk.video, "
        "citywalk.cli\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout}"
