"""Shop signs carry real lettering: seeded names in the style's script, and a rendered close-up
of a sign reads back (OCR with tesseract) as the name the street generated."""

import shutil
import subprocess
import unicodedata

import numpy as np
import pytest
from PIL import Image, ImageOps

from citywalk.camera.track import CameraFrame, intrinsics, look_at
from citywalk.errors import StyleError
from citywalk.look.lighting import resolve_lighting
from citywalk.render.renderer import Renderer
from citywalk.shot import LookSpec
from citywalk.sources.procedural.signs import SignBank, load_lettering, shop_name
from citywalk.sources.procedural.street import generate_street
from citywalk.sources.procedural.style import load_style

SIZE = (640, 360)
FOV_DEG = 60.0
UP = np.array([0.0, 0.0, 1.0])


def _kana_or_han(ch: str) -> bool:
    o = ord(ch)
    return 0x3040 <= o <= 0x30FF or 0x4E00 <= o <= 0x9FFF or ch == "々"


def _han(ch: str) -> bool:
    return 0x4E00 <= ord(ch) <= 0x9FFF


def _latin(ch: str) -> bool:
    return ch in " '&-" or (ch.isalpha() and "LATIN" in unicodedata.name(ch))


@pytest.mark.parametrize("style,ok", [("tokyo", _kana_or_han), ("hong_kong", _han), ("paris", _latin),
                                      ("new_york", _latin), ("amsterdam", _latin)])
def test_names_are_seeded_and_in_the_styles_script(style, ok):
    st = load_style(style)
    a, b = SignBank(st, np.random.default_rng(5), 8), SignBank(st, np.random.default_rng(5), 8)
    other = SignBank(st, np.random.default_rng(6), 8)
    names = [f.text for f in a.h + a.v]
    assert names == [f.text for f in b.h + b.v]
    assert names != [f.text for f in other.h + other.v]
    assert len(set(f.text for f in a.h)) == 8, "distinct names on one street"
    bad = [n for n in names if not n or not all(ok(c) for c in n)]
    assert not bad, f"{style}: names outside the script: {bad}"
    assert all(np.array_equal(a.textures[k], b.textures[k]) for k in a.textures)
    assert len(a.textures) == 4, "8 + 8 faces pack into 4 atlas layers"


def test_a_style_names_an_unknown_word_list_clearly():
    st = load_style("tokyo")
    bad = st.model_copy(update={"signs": st.signs.model_copy(update={"lettering": "klingon"})})
    with pytest.raises(StyleError, match="klingon.*known: .*japanese"):
        SignBank(bad, np.random.default_rng(0), 4)


def test_vertical_japanese_names_fill_a_vertical_pattern():
    L = load_lettering("japanese")
    rng = np.random.default_rng(3)
    names = [shop_name(rng, L, vertical=True) for _ in range(40)]
    assert all(2 <= len(n) <= 7 for n in names)


# ---------------------------------------------------------------- OCR of rendered signs


def _tesseract_lang(lang: str) -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed (Debian: tesseract-ocr; scripts/sysdeps.sh installs it)")
    langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True).stdout.split()
    if lang not in langs:
        pytest.skip(f"tesseract has no '{lang}' data (Debian: tesseract-ocr-{lang.replace('_', '-')})")


def _ocr(img: Image.Image, lang: str, psm: int) -> str:
    import io

    buf = io.BytesIO()
    img.save(buf, "PNG")
    out = subprocess.run(["tesseract", "-", "-", "-l", lang, "--psm", str(psm)], input=buf.getvalue(),
                         capture_output=True, timeout=60)
    return "".join(out.stdout.decode("utf-8").split())


def _edits(a: str, b: str) -> int:
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _close_ups(style: str, kind: str, count: int, when: str = "noon"):
    """(name, crop) for the first `count` signs of `kind` seen unobstructed from straight in front."""
    scene = generate_street(load_style(style), 11, 80.0)
    K = intrinsics(FOV_DEG, SIZE)
    r = Renderer(scene, resolve_lighting(LookSpec(when=when)), SIZE, samples=1)
    out = []
    try:
        for s in scene.stats["signs"]:
            if s["kind"] != kind or len(out) == count:
                continue
            c, n = np.array(s["centre_m"]), np.array(s["normal"])
            tw, th = s["text_size_m"]
            half = np.tan(np.radians(FOV_DEG / 2))
            dist = max(tw / (0.75 * 2 * half), th / (0.8 * 2 * half * SIZE[1] / SIZE[0]), 1.0)
            R, t = look_at(c + n * dist, c)
            res = r.render(CameraFrame(0, 0.0, R, t, K, SIZE), want_depth=True)
            u = np.cross(UP, n)
            corners = [c + u * a * tw / 2 + UP * b * th / 2 for a in (-1, 1) for b in (-1, 1)]
            px = np.array([(K @ (R @ p + t))[:2] / (K @ (R @ p + t))[2] for p in corners])
            x0, y0 = np.maximum(px.min(0) - 12, 0).astype(int)
            x1, y1 = np.minimum(px.max(0) + 12, SIZE).astype(int)
            depth = res["depth"][y0:y1, x0:x1]
            if np.mean(depth < dist - 0.1) > 0.005:  # depth runs along the ray: nothing may be nearer
                continue  # a pole, a wire or another sign in the way
            out.append((s["text"], Image.fromarray(res["rgb"][y0:y1, x0:x1])))
    finally:
        r.close()
    return out


def _binarised(crop: Image.Image, text_px: int = 50) -> Image.Image:
    """The crop as black lettering on white, glyphs about `text_px` across, with a white margin:
    the page tesseract reads best (no colour, no frame rim)."""
    g = crop.convert("L")
    g = g.crop((10, 10, g.width - 10, g.height - 10))
    k = text_px / (0.85 * min(g.size))
    g = np.asarray(g.resize((max(1, round(g.width * k)), max(1, round(g.height * k))), Image.LANCZOS), float)
    ink = g >= (g.max() + g.min()) / 2
    if ink.mean() < 0.5:  # the lettering is the minority: make it black
        ink = ~ink
    return ImageOps.expand(Image.fromarray((ink * 255).astype(np.uint8)), 30, fill=255)


def _read_signs(style: str, lang: str, count: int = 4) -> list[tuple[str, str]]:
    _tesseract_lang(lang)
    shots = _close_ups(style, "fascia", count)
    assert len(shots) == count, f"{count} unobstructed fascia signs on the street"
    return [("".join(name.split()), _ocr(_binarised(crop), lang, 7)) for name, crop in shots]


@pytest.mark.parametrize("style,lang", [("tokyo", "jpn"), ("hong_kong", "chi_tra"), ("paris", "eng")])
def test_sign_close_ups_read_back_as_their_names(style, lang):
    read = _read_signs(style, lang)
    # tesseract misreads the odd glyph (室 as 宝, ら as 5 at some sizes; English data reads ê as
    # é): each sign may have one character wrong (spaces aside), and most must read exactly
    assert all(_edits(text, name) <= 1 for name, text in read), read
    assert sum(text == name for name, text in read) >= 3, read


def test_a_missing_font_names_the_package_to_install(monkeypatch, tmp_path):
    from citywalk.errors import SceneError
    from citywalk.sources.procedural import signs

    monkeypatch.setattr(signs, "FONT_DIRS", (tmp_path,))
    with pytest.raises(SceneError, match="fonts-noto-cjk"):
        signs.font_path("sans")


def test_a_blend_letters_in_its_heaviest_parents_script():
    bank = SignBank(load_style("tokyo:0.7,paris:0.3"), np.random.default_rng(1), 4)
    assert all(_kana_or_han(c) for f in bank.h + bank.v for c in f.text)
