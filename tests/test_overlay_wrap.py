"""Copyright notices wrap onto lines that fit the frame: at 320 px wide the OSM notice plus a
tileset's notice is drawn whole, every row inside the frame, none cut off."""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from citywalk.video.overlay import CornerText, wrap_to_width

OSM = "© OpenStreetMap contributors, ODbL 1.0 (openstreetmap.org/copyright)"
TILES = "Imagery (c) Example Maps Cooperative, Photogrammetry 2026"


def test_wrap_keeps_every_character_and_fits():
    rows = wrap_to_width("aaaa bbbbbbbbbbbbbbb cc", lambda s: len(s) <= 6)
    assert rows == ["aaaa", "bbbbbb", "bbbbbb", "bbb cc"]
    assert all(len(r) <= 6 for r in rows)


def test_long_notice_wraps_at_320px_and_is_drawn_whole():
    w, h = 320, 180
    notice = CornerText([OSM, TILES], (w, h))
    font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    text_w = probe.textbbox((0, 0), notice.text, font=font)[2]
    assert text_w > w  # one line would be cut off
    assert len(notice.rows) >= 2
    assert "".join(notice.rows).replace(" ", "") == notice.text.replace(" ", "")
    for row in notice.rows:
        assert probe.textbbox((0, 0), row, font=font)[2] <= w - 2 * 6 - 8
    ph, pw = notice.rgba.shape[:2]
    assert notice.x0 >= 0 and notice.y0 >= 0 and notice.x0 + pw <= w and notice.y0 + ph <= h
    # Every row has white ink in its band, and no ink touches the patch's edges (nothing clipped).
    frame = notice.apply(np.zeros((h, w, 3), np.uint8))
    ink = frame[..., 0] > 200
    ys, xs = np.nonzero(ink)
    assert xs.min() > notice.x0 and xs.max() < notice.x0 + pw - 1
    assert ys.min() > notice.y0 and ys.max() < notice.y0 + ph - 1
    rows_with_ink = np.unique((ys - notice.y0 - 2) // ((ph - 4) // len(notice.rows)))
    assert len(rows_with_ink) >= len(notice.rows)


def test_short_notice_is_one_row():
    notice = CornerText(["(c) A"], (1280, 720))
    assert notice.rows == ["(c) A"]
