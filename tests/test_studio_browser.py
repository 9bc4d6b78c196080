"""The Studio page in a real browser: Playwright drives Debian's Chromium (offline flags) against
`citywalk serve` started as a process. It composes a 1-second Shot, sees the preview change when
the time-of-day slider moves, renders, watches the progress bar reach done, plays the result in the
page's <video> (currentTime advances) and finds the render in the gallery.

Set CITYWALK_STUDIO_SCREENSHOT=docs/studio.png to also save a screenshot of the whole page (1280 wide)."""

import os
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("playwright")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip("Debian's chromium is not installed (scripts/sysdeps.sh installs it)", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

from citywalk.studio.launch import ServerProcess  # noqa: E402

OFFLINE_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only",
                 "--autoplay-policy=no-user-gesture-required"]
MEAN_JS = """async () => {
  const img = document.querySelector('#preview');
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let s = 0;
  for (let i = 0; i < d.length; i += 4) s += d[i] + d[i + 1] + d[i + 2];
  return { mean: s / (3 * d.length / 4), seq: Number(img.dataset.seq), w: c.width, h: c.height };
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("studio-browser")
    with ServerProcess(tmp / "data") as s:
        yield s


@pytest.fixture(scope="module")
def page(server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=OFFLINE_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})  # the page's own CSP applies
        pg = context.new_page()
        pg.set_default_timeout(120_000)
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
        pg.goto(server.url + "/")
        yield pg
        browser.close()
        assert not errors, f"the page threw or broke its CSP: {errors}"


def wait_js(page, predicate: str, timeout_s: float = 120.0) -> None:
    """Poll a JS predicate with page.evaluate (Playwright's wait_for_function evals a string in the page,
    which the page's CSP forbids)."""
    t = time.monotonic()
    while not page.evaluate(predicate):
        if time.monotonic() - t > timeout_s:
            raise AssertionError(f"not true after {timeout_s:g} s: {predicate}")
        time.sleep(0.1)


def preview_after(page, seq: int) -> dict:
    """Wait for a preview newer than `seq` and no request in flight, then measure it."""
    wait_js(page, f"() => Number(document.querySelector('#preview').dataset.seq) > {seq} && "
                           "!document.querySelector('#preview-dot').classList.contains('busy')")
    return page.evaluate(MEAN_JS)


def test_compose_preview_render_play(page, server):
    first = preview_after(page, 0)
    assert (first["w"], first["h"]) == (480, 270)
    page.click("[data-style=paris]")
    page.click("[data-style=tokyo]")
    page.click("[data-weather=clear]")
    page.click("[data-rig=walk]")
    page.fill("#duration", "1")
    page.select_option("#size", "640x360")
    page.select_option("#fps", "12")
    assert page.inner_text("#render-label") == "Render 1 s"
    composed = preview_after(page, first["seq"])
    assert (composed["w"], composed["h"]) == (480, 270)

    page.fill("#time-slider", "780")  # 13:00, from the default dusk
    noon = preview_after(page, composed["seq"])
    assert page.inner_text("#time-readout").startswith("13:00")
    assert noon["mean"] > composed["mean"] + 10, (composed, noon)  # daylight is brighter than dusk
    page.fill("#time-slider", "1320")  # 22:00
    night = preview_after(page, noon["seq"])
    assert night["mean"] < noon["mean"] - 10, (noon, night)
    page.fill("#time-slider", "1155")  # 19:15: dusk, signs and windows lit, for the render

    page.click("#render")
    wait_js(page, "() => document.querySelector('#progress-stage').textContent === 'Done'", timeout_s=300)
    assert page.eval_on_selector("#progress-fill", "e => e.style.width") == "100%"
    job_id = page.eval_on_selector("#player", "v => v.dataset.job")
    job = server.get(f"/api/v1/jobs/{job_id}")
    assert job["state"] == "done" and job["request"]["shot"]["output"]["duration_s"] == 1
    assert job["request"]["shot"]["scene"]["style"] == "tokyo" and job["request"]["shot"]["look"]["when"] == "19:15"

    assert page.eval_on_selector("#player", "v => v.canPlayType('video/mp4; codecs=\"avc1.42E01E\"')") != ""
    wait_js(page, "() => document.querySelector('#player').readyState >= 2")
    page.eval_on_selector("#player", "v => { v.currentTime = 0; return v.play(); }")
    wait_js(page, "() => document.querySelector('#player').currentTime > 0.3", timeout_s=30)
    assert abs(page.eval_on_selector("#player", "v => v.duration") - 1.0) < 0.15

    card = page.wait_for_selector(f".shot[data-job='{job_id}'] .state.done")
    assert card.inner_text().lower() == "done"
    page.wait_for_selector(f".shot[data-job='{job_id}'] .poster[style*='poster']")

    shot_path = os.environ.get("CITYWALK_STUDIO_SCREENSHOT")
    if shot_path:
        page.eval_on_selector("#player", "v => v.pause()")
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=shot_path, full_page=True)


def test_the_prompt_fills_in_the_form(page):
    page.fill("#prompt", "a rainy evening walk in london, camera from the side")
    page.click("#prompt-go")
    page.wait_for_selector("#prompt-result .tag")
    assert page.get_attribute(".style-card.selected", "data-style") == "london"
    assert page.get_attribute(".weather.selected", "data-weather") == "mid_rain"
    assert page.get_attribute(".seg.selected", "data-rig") == "side"
    assert page.get_attribute("#time-presets .chip.selected", "data-time") == "dusk"
    tags = page.locator("#prompt-result .tag").all_inner_texts()
    assert "london" in tags and "rainy" in tags
    assert page.eval_on_selector("#duration", "d => d.value") == "1"  # what the prompt does not mention stays
