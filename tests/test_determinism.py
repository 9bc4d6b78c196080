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
