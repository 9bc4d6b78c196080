"""Capture intake and catalog: metadata from the file, refusals that store nothing, atomic entries,
concurrent writers, and the list/show/remove/resolve functions the CLI uses."""

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from citywalk.capture import CaptureError
from citywalk.capture.catalog import CaptureMeta, Catalog, list_scenes, remove_scene, resolve_scene, show_scene
from citywalk.capture.intake import submit

from builders import write_video

OK = CaptureMeta(place="Shibuya", contributor="ana", consent=True)


def noise_video(path: Path, n: int = 6, rng=None) -> Path:
    rng = rng or np.random.default_rng(0)
    return write_video(path, rng.integers(0, 255, (n, 48, 64, 3), dtype=np.uint8))


def nothing_stored(root: Path) -> bool:
    return (
        Catalog(root).list() == [] and not any((root / "entries").iterdir()) and not any((root / ".staging").iterdir())
    )


def test_submit_video_reads_tags_and_stores_a_copy(tmp_path):
    video = write_video(tmp_path / "Walk 1.mp4", np.full((4, 32, 48, 3), 90, np.uint8),
                        metadata={"creation_time": "2026-06-21T19:30:00.000000Z", "location": "+35.6595+139.7005/"})
    e = submit(tmp_path / "cat", video, OK)
    assert e.name == "walk-1" and e.kind == "video" and e.status == "submitted"
    assert e.meta.captured_at.startswith("2026-06-21T19:30") and e.meta.lat == pytest.approx(35.6595)
    assert e.meta.lon == pytest.approx(139.7005) and e.meta.place == "Shibuya"
    assert (e.path / e.source).read_bytes() == video.read_bytes()
    again = Catalog(tmp_path / "cat").get("walk-1")
    assert again.id == e.id and again.meta == e.meta


def test_submit_image_folder_reads_exif_time(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        im = Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
        exif = Image.Exif()
        exif[0x0132] = f"2025:01:0{i + 1} 10:00:00"
        exif[0x0110] = "Pixel 9"
        im.save(folder / f"img{i}.jpg", exif=exif)
    e = submit(tmp_path / "cat", folder, OK, name="street")
    assert e.kind == "images" and sorted(p.name for p in (e.path / "source").iterdir()) == [
        "img0.jpg",
        "img1.jpg",
        "img2.jpg",
    ]
    assert e.meta.captured_at == "2025-01-01T10:00:00" and e.meta.device == "Pixel 9"


@pytest.mark.parametrize(
    "make, words",
    [
        (
            lambda p: (p / "x.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100) and p / "x.mp4",
            "not a readable video",
        ),
        (lambda p: (p / "x.txt").write_text("hi") and p / "x.txt", "unsupported file type"),
        (lambda p: p / "missing.mp4", "no such file"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(tmp_path, make, words):
    with pytest.raises(CaptureError, match=words):
        submit(tmp_path / "cat", make(tmp_path), OK)
    assert nothing_stored(tmp_path / "cat")


def test_refusals_for_consent_meta_and_names(tmp_path):
    v = noise_video(tmp_path / "v.mp4")
    with pytest.raises(CaptureError, match="consent"):
        submit(tmp_path / "cat", v, CaptureMeta())
    with pytest.raises(CaptureError, match="lat=91"):
        submit(tmp_path / "cat", v, CaptureMeta(lat=91.0, consent=True))
    with pytest.raises(CaptureError, match="scene name"):
        submit(tmp_path / "cat", v, OK, name="Bad Name!")
    submit(tmp_path / "cat", v, OK, name="one")
    with pytest.raises(CaptureError, match="already in the catalog"):
        submit(tmp_path / "cat", v, OK, name="one")
    assert [e.name for e in Catalog(tmp_path / "cat").list()] == ["one"]


def test_failure_while_writing_leaves_no_entry(tmp_path):
    cat = Catalog(tmp_path / "cat")

    def half_write(folder: Path) -> None:
        (folder / "part").write_bytes(b"x" * 1000)
        raise OSError("disk full")

    with pytest.raises(OSError):
        cat.add("half", "video", "part", OK, half_write)
    assert nothing_stored(tmp_path / "cat")
    # a crash between the folder rename and the commit leaves a folder without row: swept
    (tmp_path / "cat" / "entries" / "orphan").mkdir()
    assert [p.name for p in cat.sweep()] == ["orphan"] and nothing_stored(tmp_path / "cat")


def _add_many(args):
    root, who = args
    cat = Catalog(root)
    for i in range(5):
        cat.add(f"{who}-{i}", "video", "f", CaptureMeta(consent=True), lambda d: (d / "f").write_bytes(b"1"))
    return who


def test_concurrent_writers_all_commit(tmp_path):
    root = tmp_path / "cat"
    Catalog(root)
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_add_many, [(root, "a"), (root, "b"), (root, "c")]))
    entries = Catalog(root).list()
    assert sorted(e.name for e in entries) == sorted(f"{w}-{i}" for w in "abc" for i in range(5))
    assert all((e.path / "f").read_bytes() == b"1" for e in entries)


def test_list_show_remove_and_resolve(tmp_path):
    root = tmp_path / "cat"
    e = submit(root, noise_video(tmp_path / "v.mp4"), OK, name="alley")
    assert [s["name"] for s in list_scenes(root)] == ["alley"]
    assert show_scene("alley", root)["meta"]["contributor"] == "ana"
    with pytest.raises(CaptureError, match="has no trained scene"):
        resolve_scene("alley", root)
    Catalog(root).attach_scene("alley", lambda d: (d / "scene.ply").write_text("ply"))
    assert resolve_scene("alley", root) == e.path / "scene" / "scene.ply"
    assert list_scenes(root, status="processed")[0]["scene_ply"].endswith("scene.ply")
    remove_scene("alley", root)
    assert list_scenes(root) == [] and not e.path.exists()
    with pytest.raises(CaptureError, match="no capture named 'alley'"):
        show_scene("alley", root)


def test_capture_imports_are_light_and_missing_extras_name_the_fix(monkeypatch):
    import subprocess
    import sys

    code = ("import sys, citywalk.capture.process, citywalk.capture.evaluate, citywalk.capture.catalog\n"
            "print(','.join(m for m in ('torch', 'pycolmap', 'av', 'cv2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    from citywalk.capture import poses, raster
    from citywalk.errors import MissingExtra

    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "pycolmap", None)
    with pytest.raises(MissingExtra, match=r"citywalk\[capture\]"):
        raster.import_torch()
    with pytest.raises(MissingExtra, match="pycolmap"):
        poses.run_sfm(".", "/nonexistent")


def test_cli_capture_submit_process_failure_and_scenes(tmp_path, capsys):
    """The CLI stores a capture, reports a bad one's reasons, and lists/shows/removes scenes."""

    from citywalk.cli import main

    video = tmp_path / "black.mp4"
    with av.open(str(video), "w") as c:
        s = c.add_stream("libx264", rate=8)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(16):
            f = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    cat = str(tmp_path / "catalog")
    assert main(["capture", "submit", str(video), "--name", "dark", "--consent", "--catalog", cat]) == 0
    assert main(["capture", "submit", str(video), "--name", "nope", "--catalog", cat]) == 2  # no consent
    assert "consent" in capsys.readouterr().err
    assert main(["capture", "process", "dark", "--catalog", cat, "--iterations", "10"]) == 2
    assert "dark" in capsys.readouterr().err
    assert main(["scenes", "list", "--catalog", cat]) == 0
    assert "failed" in capsys.readouterr().out
    assert main(["scenes", "show", "dark", "--catalog", cat]) == 0 and "dark" in capsys.readouterr().out
    assert main(["scenes", "remove", "dark", "--catalog", cat]) == 0
    assert "removed 'dark'" in capsys.readouterr().out
    assert main(["scenes", "list", "--catalog", cat]) == 0 and "dark" not in capsys.readouterr().out
