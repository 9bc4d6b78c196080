"""The QA report of a capture: which frames were kept or dropped and why, motion-blur share,
exposure, time coverage, pose registration — as JSON plus a small PNG contact sheet. The verdict
is 'ok' or 'rejected' with one-line reasons a contributor can act on."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from citywalk.capture.frames import FrameSelection
from citywalk.capture.poses import PURE_ROTATION, rotation_only

MIN_FRAMES = 8
MIN_REGISTERED_SHARE = 0.5
QA_JSON = "qa.json"
QA_PNG = "qa.png"


def frames_report(sel: FrameSelection, min_frames: int = MIN_FRAMES) -> dict:
    """The frames part of the report, with verdict and reasons (before poses are known)."""
    recs = sel.records
    kept = sel.kept
    causes = Counter(r.reason.split(" (")[0] for r in recs if not r.kept)
    blurred = sum(1 for r in recs if r.reason.startswith("motion blur"))
    candidates = max(1, sel.windows)
    lum = np.array([r.mean_luma for r in recs]) if recs else np.zeros(1)
    report = {
        "frames_decoded": len(recs),
        "frames_kept": len(kept),
        "windows": sel.windows,
        "size_px": list(sel.size_px),
        "fps": sel.fps,
        "motion_blur_share": blurred / candidates,
        "coverage_share": len({int(r.time_s * 1e3) for r in kept}) / candidates,
        "exposure": {"mean_luma": float(lum.mean()), "min_luma": float(lum.min()),
                     "max_luma": float(lum.max()),
                     "dark_frames": sum(1 for r in recs if r.reason.startswith("too dark")),
                     "overexposed_frames": sum(1 for r in recs if r.reason.startswith("overexposed"))},
        "drop_causes": dict(causes),
        "kept": [{"index": r.index, "time_s": r.time_s, "file": r.file, "sharpness": r.sharpness} for r in kept],
        "dropped": [{"index": r.index, "time_s": r.time_s, "reason": r.reason} for r in recs if not r.kept],
        "verdict": "ok",
        "reasons": [],
    }
    if len(recs) == 0:
        _reject(report, "the capture holds no decodable frames")
    elif len(kept) < min_frames:
        top = ", ".join(f"{n} {cause}" for cause, n in causes.most_common(3)) or "none dropped"
        _reject(report, f"only {len(kept)} usable frame(s) out of {len(recs)} (need ≥ {min_frames}); "
                        f"dropped: {top}")
    if recs and report["exposure"]["dark_frames"] > 0.8 * sel.windows:
        _reject(report, "the video is almost entirely dark (black frames or lens covered)")
    if recs and sum(1 for r in recs if r.reason.startswith("featureless")) > 0.8 * sel.windows:
        _reject(report, "almost every frame is featureless (a blank wall, sky or floor): film textured "
                        "surroundings from several viewpoints")
    return report


def add_poses(report: dict, poses_summary: dict, min_registered_share: float = MIN_REGISTERED_SHARE) -> dict:
    """Merge the SfM figures (registered share, reprojection error) into the report."""
    report["poses"] = poses_summary
    share = poses_summary.get("registered_share", 0.0)
    if share < min_registered_share:
        _reject(report, f"only {share:.0%} of kept frames got a camera pose (need ≥ {min_registered_share:.0%})")
        if rotation_only(poses_summary):  # say why, when the frame pairs tell
            _reject(report, f"camera poses: {poses_summary['rotation_only_share']:.0%} of frame pairs show that "
                            f"{PURE_ROTATION}")
    return report


def _reject(report: dict, reason: str) -> None:
    report["verdict"] = "rejected"
    if reason not in report["reasons"]:
        report["reasons"].append(reason)


def write_report(folder: str | Path, report: dict, sel: FrameSelection | None = None) -> tuple[Path, Path]:
    """Write qa.json and qa.png (thumbnails framed green = kept, red = dropped) into `folder`."""
    from PIL import Image

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / QA_JSON).write_text(json.dumps(report, indent=1), encoding="utf-8")
    png = out / QA_PNG
    Image.fromarray(contact_sheet(sel, report)).save(png)
    return out / QA_JSON, png


def contact_sheet(sel: FrameSelection | None, report: dict, columns: int = 12, max_tiles: int = 120) -> np.ndarray:
    """(H, W, 3) uint8 summary: one tile per scored window, border green (kept) or red (dropped),
    a top bar green/red for the verdict."""
    thumbs = sorted((sel.thumbs if sel else {}).items())[:max_tiles]
    kept = {r.index for r in sel.kept} if sel else set()
    tile_h = max([t.shape[0] for _, t in thumbs] or [36]) + 4
    tile_w = 64 + 4
    rows = max(1, (len(thumbs) + columns - 1) // columns)
    sheet = np.full((8 + rows * tile_h, columns * tile_w, 3), 32, np.uint8)
    sheet[:6] = (40, 170, 60) if report.get("verdict") == "ok" else (200, 40, 40)
    for k, (index, t) in enumerate(thumbs):
        r, c = divmod(k, columns)
        y, x = 8 + r * tile_h, c * tile_w
        sheet[y:y + t.shape[0] + 4, x:x + t.shape[1] + 4] = (40, 170, 60) if index in kept else (200, 40, 40)
        sheet[y + 2:y + 2 + t.shape[0], x + 2:x + 2 + t.shape[1]] = t[..., :3]
    return sheet
