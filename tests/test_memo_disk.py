"""The light data derived from a street (AO bake, lamp volume) is kept between processes in the
user's cache folder: read back equal, never stale after a code change, an unreadable file made
again, the folder kept under its size bound, nothing written when the cache is off."""

import numpy as np
import pytest

from citywalk.render import bake, lamps
from citywalk.render.memo import DiskStore
from citywalk.scene import PointLight


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYWALK_CACHE_DIR", str(tmp_path))
    bake._MEMO.clear()
    lamps._MEMO.clear()
    yield tmp_path / "light"
    bake._MEMO.clear()
    lamps._MEMO.clear()


def _lights():
    return [PointLight((0.0, 0.0, 5.0)), PointLight((6.0, 2.0, 5.0), intensity=4000.0)]


def test_a_new_process_reads_the_volume_back_equal(cache, monkeypatch):
    first = lamps.lamp_volume(_lights(), (-10, -10), (10, 10))
    stored = list(cache.glob("lamps-*.npz"))
    assert len(stored) == 1
    lamps._MEMO.clear()  # as a new process would start
    monkeypatch.setattr(lamps, "_sum_lamps", lambda *a: pytest.fail("summed again instead of read"))
    again = lamps.lamp_volume(_lights(), (-10, -10), (10, 10))
    assert again is not first
    for f in ("total", "direction", "origin_m", "size_m"):
        assert np.array_equal(getattr(again, f), getattr(first, f)), f
        assert not getattr(again, f).flags.writeable  # shared, so frozen like a fresh one
    assert again.total.dtype == np.float16


def test_the_ao_bake_round_trips_with_its_scalars(cache):
    from test_look_light import _corner_scene

    first = bake.bake_ao(_corner_scene())
    bake._MEMO.clear()
    again = bake.bake_ao(_corner_scene())
    assert np.array_equal(again.vis, first.vis) and again.cell_m == first.cell_m
    assert again.stats == pytest.approx(first.stats)


def test_a_corrupt_file_is_made_again(cache):
    first = lamps.lamp_volume(_lights(), (-10, -10), (10, 10))
    (path,) = cache.glob("lamps-*.npz")
    path.write_bytes(b"PK\x03\x04 truncated")
    lamps._MEMO.clear()
    again = lamps.lamp_volume(_lights(), (-10, -10), (10, 10))
    assert np.array_equal(again.total, first.total)
    (rewritten,) = cache.glob("lamps-*.npz")
    assert rewritten.stat().st_size > 100


def test_an_edit_to_the_code_is_a_miss_not_a_stale_result(cache):
    store = DiskStore("lamps", lamps.LampVolume, b"the summing code")
    edited = DiskStore("lamps", lamps.LampVolume, b"the summing code, edited")
    v = lamps._sum_lamps(_lights(), (-10, -10), (10, 10), 0.75, 24.0)
    store.save("k", v)
    assert store.load("k") is not None and edited.load("k") is None


def test_the_folder_stays_under_its_bound(cache):
    """Room for two: each save drops the least recently used beyond that, never the new one."""
    import os
    import time

    v = lamps._sum_lamps(_lights(), (-10, -10), (10, 10), 0.75, 24.0)
    one = v.total.nbytes + v.direction.nbytes
    store = DiskStore("lamps", lamps.LampVolume, b"code", max_bytes=int(2.5 * one) + 4096)
    now = time.time()
    for age_s, key in zip((40, 30, 20, 10), "abcd"):
        store.save(key, v)
        os.utime(store.path(key), (now - age_s, now - age_s))  # used in this order
    assert sorted(p.name for p in cache.glob("*.npz")) == sorted(store.path(k).name for k in "cd")
    assert store.load("a") is None and store.load("d") is not None


def test_nothing_is_written_when_the_cache_is_off(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYWALK_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    lamps._MEMO.clear()
    lamps.lamp_volume(_lights(), (-10, -10), (10, 10))
    lamps._MEMO.clear()
    assert not list(tmp_path.rglob("*")), "no file anywhere"
    monkeypatch.delenv("CITYWALK_CACHE_DIR")
    lamps.lamp_volume(_lights(), (-10, -10), (10, 10))
    lamps._MEMO.clear()
    assert len(list((tmp_path / "xdg" / "citywalk" / "light").glob("lamps-*.npz"))) == 1


def test_a_crashed_writers_partial_file_is_cleared_later(cache):
    """A writer killed mid-file leaves a .part, never an .npz: the next save clears it once it is
    an hour old, and leaves a younger one (another process may still be writing it)."""
    import os
    import time

    cache.mkdir(parents=True)
    old, young = cache / ".a1.part", cache / ".b2.part"
    old.write_bytes(b"half a file")
    young.write_bytes(b"being written")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    lamps.lamp_volume(_lights(), (-10, -10), (10, 10))
    assert not old.exists() and young.exists()
    assert len(list(cache.glob("*.npz"))) == 1
