"""No global random state anywhere in citywalk: every generator takes an explicit
np.random.Generator, so the same Shot and seed give the same frames."""

import re
from pathlib import Path

import citywalk

BANNED = re.compile(r"^\s*import random\b|^\s*from random import|np\.random\.(seed|rand|randn|randint|choice|uniform|"
                    r"normal|shuffle|permutation|random)\(|\btime\.time\(\)", re.M)


def test_no_global_random_state_or_wall_clock_in_the_package():
    root = Path(citywalk.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for m in BANNED.finditer(path.read_text(encoding="utf-8")):
            line = path.read_text(encoding="utf-8")[: m.start()].count("\n") + 1
            offenders.append(f"{path.relative_to(root)}:{line}: {m.group(0).strip()}")
    assert not offenders, "\n".join(offenders)


# ---------------------------------------------------------------- same Shot + seed → same frames

import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = {"size": [96, 64], "duration_s": 0.5, "fps": 8, "samples": 1, "extras": ["frames"]}
_RENDER_AND_HASH = """
import hashlib, json, sys
from pathlib import Path
import numpy as np
from PIL import Image
from citywalk.pipeline import render_shot
from citywalk.shot import Shot
cases, out = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2])
hashes = {}
for name, spec in cases.items():
    render_shot(Shot.from_dict(spec), out / name / "walk.mp4")
    hashes[name] = [hashlib.sha256(np.asarray(Image.open(p)).tobytes()).hexdigest()
                    for p in sorted((out / name / "walk_frames").glob("*.png"))]
print(json.dumps(hashes))
"""


def _frames_identical_module():
    spec = importlib.util.spec_from_file_location("frames_identical", ROOT / "scripts" / "frames_identical.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _tiny_cases(data: Path) -> dict[str, dict]:
    """One Shot per world source (frames_identical's cases, shrunk), plus actors and weather keyframes."""
    fi = _frames_identical_module()
    fi.make_data(data)
    cases = {k: v for k, v in fi.cases(data, quick=True).items() if k != "demo"}
    for spec in cases.values():
        spec["output"] = dict(TINY)
    cases["actor_weather_keys"] = {
        "scene": {"source": "procedural", "style": "paris", "seed": 5}, "camera": {"rig": "side"},
        "actors": [{"likeness": str(data / "me.actor")}],
        "look": {"when": "dusk", "weather": [{"t_s": 0, "weather": "clear"}, {"t_s": 0.5, "weather": "hard_rain"}]},
        "output": dict(TINY)}
    return cases


def _render_with_threads(cases_file: Path, out: Path, threads: int) -> dict:
    n = str(threads)
    env = {**os.environ, "LP_NUM_THREADS": n, "OMP_NUM_THREADS": n, "NUMBA_NUM_THREADS": n,
           "OPENBLAS_NUM_THREADS": n, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    res = subprocess.run([sys.executable, "-c", _RENDER_AND_HASH, str(cases_file), str(out)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_same_shot_same_frames_for_every_world_source_at_two_thread_counts(tmp_path):
    cases = _tiny_cases(tmp_path / "data")
    assert {"osm", "mesh", "kmz", "tiles", "splat", "side_actor", "night_rain", "actor_weather_keys"} <= set(cases)
    cases_file = tmp_path / "cases.json"
    cases_file.write_text(json.dumps(cases))
    one = _render_with_threads(cases_file, tmp_path / "t1", 1)
    two = _render_with_threads(cases_file, tmp_path / "t2", 2)
    for name in cases:
        assert len(one[name]) == 4, (name, one[name])
        assert one[name] == two[name], f"{name}: frames differ between 1 and 2 threads"
    assert len({h for v in one.values() for h in v}) > len(cases)  # the frames do show different things
