"""Builds a WalkNetwork from straight walk lines, splitting them where lines meet."""

from __future__ import annotations

import numpy as np

from ...scene import WalkNetwork

SIDEWALK_Z_M = 0.15


class NetworkBuilder:
    """Collects 2D walk lines (sidewalk centres, street edges, crossings) and joins them into a graph."""

    def __init__(self) -> None:
        self._lines: list[tuple[np.ndarray, np.ndarray, str, str]] = []

    def line(self, p0, p1, kind: str, street: str) -> None:
        self._lines.append((np.asarray(p0, float), np.asarray(p1, float), kind, street))

    def build(self) -> WalkNetwork:
        ends = np.array([p for a, b, _, _ in self._lines for p in (a, b)])
        keys: dict[tuple[int, int], int] = {}
        nodes: list[tuple[float, float, float]] = []
        edges, kinds, streets = [], [], []

        def node(p, kind: str) -> int:
            k = (round(p[0] * 1000), round(p[1] * 1000))
            if k not in keys:
                keys[k] = len(nodes)
                nodes.append((float(p[0]), float(p[1]), SIDEWALK_Z_M if kind == "sidewalk" else 0.0))
            return keys[k]

        for a, b, kind, street in self._lines:
            d = b - a
            length2 = float(d @ d)
            if length2 < 1e-9:
                continue
            s = ((ends - a) @ d) / length2
            perp = np.abs((ends[:, 0] - a[0]) * d[1] - (ends[:, 1] - a[1]) * d[0]) / np.sqrt(length2)
            inside = (perp < 1e-3) & (s > 1e-6) & (s < 1 - 1e-6)
            params = np.unique(np.concatenate([[0.0, 1.0], np.round(s[inside], 9)]))
            ids = [node(a + d * u, kind) for u in params]
            for i, j in zip(ids[:-1], ids[1:]):
                if i != j:
                    edges.append((i, j))
                    kinds.append(kind)
                    streets.append(street)
        return WalkNetwork(np.array(nodes, np.float64), np.array(edges, np.int64).reshape(-1, 2), kinds, streets)
