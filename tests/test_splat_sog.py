"""PlayCanvas SOG version 2 (.sog bundle and unbundled meta.json folder): round trips within the
format's quantisation, Morton order, and refusal of malformed files naming the file and fault."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from citywalk.errors import SceneError
from citywalk.sources.splat_sog import (
    codebook_1d,
    median_cut_labels,
    morton_permutation,
    read_sog,
    sog_files,
    write_sog,
)
from citywalk.sources.splats import load_splat_scene, save_splat_scene

from builders import make_cloud

pytestmark = pytest.mark.skipif(not __import__("PIL.features").features.check("webp"), reason="Pillow without WebP")


def check_round_trip(cloud, back):
    """The documented SOG losses: 16-bit log-space positions, 8-bit smallest-three quaternions,
    256-entry codebooks for log scales / DC / SH rest, 8-bit opacity."""
    v = np.sign(cloud.means) * np.log1p(np.abs(cloud.means))
    dv = (v.max(0) - v.min(0)) / 65535 / 2
    bound = (1 + np.abs(cloud.means)) * np.expm1(dv * 1.01) + 1e-6
    assert np.all(np.abs(back.means - cloud.means) <= bound)
    assert np.abs(np.log(back.scales) - np.log(cloud.scales)).max() < 0.03
    assert np.abs(back.opacities - cloud.opacities).max() <= 0.5 / 255 + 1e-6
    assert np.abs(back.sh[:, 0] - cloud.sh[:, 0]).max() < 0.01
    if cloud.sh_degree:
        assert np.abs(back.sh[:, 1:] - cloud.sh[:, 1:]).max() < 0.01
    sign = np.sign(np.sum(back.rotations * cloud.rotations, axis=1))[:, None]
    assert np.abs(back.rotations * sign - cloud.rotations).max() < 0.008


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_sog_bundle_round_trip_within_quantisation(tmp_path, degree):
    cloud = make_cloud(700, degree, np.random.default_rng(degree))
    write_sog(tmp_path / "a.sog", cloud, morton_order=False)
    back = read_sog(tmp_path / "a.sog")
    assert back.count == 700 and back.sh_degree == degree
    check_round_trip(cloud, back)
    with zipfile.ZipFile(tmp_path / "a.sog") as z:
        meta = json.loads(z.read("meta.json"))
        assert meta["version"] == 2 and meta["count"] == 700
        assert set(z.namelist()) >= {"meta.json", "means_l.webp", "means_u.webp", "quats.webp", "scales.webp",
                                     "sh0.webp"}
        assert Image.open(io.BytesIO(z.read("quats.webp"))).format == "WEBP"


def test_sog_folder_with_meta_json_and_morton_order(tmp_path):
    cloud = make_cloud(300, 1, np.random.default_rng(9))
    save_splat_scene(tmp_path / "meta.json", cloud)  # morton order by default
    assert (tmp_path / "shN_labels.webp").is_file()
    back = load_splat_scene(tmp_path / "meta.json")
    check_round_trip(_take(cloud, morton_permutation(cloud.means)), back)


def _take(cloud, order):
    from citywalk.scene.gaussians import GaussianCloud

    return GaussianCloud(cloud.means[order], cloud.scales[order], cloud.rotations[order],
                         cloud.opacities[order], cloud.sh[order], cloud.sh_degree)


def test_sog_empty_and_single_splat(tmp_path):
    for n in (0, 1):
        cloud = make_cloud(n, 2, np.random.default_rng(0))
        save_splat_scene(tmp_path / f"{n}.sog", cloud)
        back = load_splat_scene(tmp_path / f"{n}.sog")
        assert back.count == n and back.sh_degree == 2
        if n:
            check_round_trip(cloud, back)


def test_codebook_exact_for_few_values_and_median_cut_labels():
    values = np.array([[0.5, -1.0], [2.0, 0.5]])
    book, idx = codebook_1d(values)
    np.testing.assert_array_equal(book[idx], values)
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(1000, 6))
    labels = median_cut_labels(vecs, 64)
    assert labels.min() == 0 and labels.max() == 63
    assert np.bincount(labels).min() >= 15  # balanced halves


def test_sog_palette_beyond_65536_splats_uses_median_cut(tmp_path):
    rng = np.random.default_rng(2)
    n = 70_000
    cloud = make_cloud(n, 1, rng)
    files = sog_files(cloud)
    meta = json.loads(files["meta.json"])
    assert meta["shN"]["count"] == 65536
    _bundle(tmp_path / "big.sog", files)
    back = read_sog(tmp_path / "big.sog")
    err = np.abs(back.sh[:, 1:] - cloud.sh[:, 1:])
    assert err.mean() < 0.05  # a palette of 65536 for 70000 splats: most are nearly exact


def _bundle(path, files):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def _webp_bytes(pixels):
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(buf, "WEBP", lossless=True, exact=True)
    return buf.getvalue()


def _edited(tmp_path, edit, degree=1, name="bad.sog"):
    files = sog_files(make_cloud(50, degree, np.random.default_rng(4)))
    meta = json.loads(files["meta.json"])
    edit(meta, files)
    if "meta.json" in files:
        files["meta.json"] = json.dumps(meta).encode() if not isinstance(meta, bytes) else meta
    return _bundle(tmp_path / name, files)


def _set(path, value):
    def edit(meta, files):
        *parents, last = path.split(".")
        d = meta
        for p in parents:
            d = d[p]
        if value is KeyError:
            del d[last]
        else:
            d[last] = value
    return edit


def _replace_image(name, change):
    def edit(meta, files):
        img = np.array(Image.open(io.BytesIO(files[name])).convert("RGBA"))
        files[name] = _webp_bytes(change(img))
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set("version", 3), "version 3; accepted version 2"),
    (_set("version", KeyError), "no 'version' (SOG version 1)"),
    (_set("count", 10 ** 12), "header declares 1000000000000 splats"),
    (_set("count", "many"), "'count' is 'many'"),
    (_set("count", 100_000), "is 8x7; expected 100000"),
    (_set("means.mins", KeyError), "means.mins must be a list of 3 finite numbers"),
    (_set("means.maxs", [0, float("nan"), 1]), "means.maxs must be a list of 3 finite numbers"),
    (_set("scales.codebook", [0.1] * 10), "scales index"),
    (_set("scales.codebook", [0.1] * 300), "scales.codebook must be a list of 1..256"),
    (_set("sh0.files", ["missing.webp"]), "no entry 'missing.webp'"),
    (_set("shN.count", 3), "label"),
    (_set("shN.bands", 4), "bands=4"),
    (_set("shN.bands", [3]), "bands=[3]"),
    (_set("means.mins", [10 ** 400, 0, 0]), "means.mins must be a list of 3 finite numbers"),
    (_set("means.maxs", [10 ** 30, 0, 0]), "overflow"),
    (_set("means.maxs", [800.0, 800.0, 800.0]), "overflow"),
    (_replace_image("quats.webp", lambda px: np.where(np.arange(4) == 3, 7, px).astype(np.uint8)),
     "quats alpha 7"),
    (_replace_image("shN_centroids.webp", lambda px: px[:, :-3]), "shN_centroids.webp is"),
    (lambda meta, files: files.__setitem__("sh0.webp", b"RIFF\x00\x00\x00\x00WEBPVP8L garbage"),
     "does not decode as WebP/PNG"),
])
def test_sog_malformed_bundles_are_refused_by_name(tmp_path, edit, message):
    path = _edited(tmp_path, edit)
    with pytest.raises(SceneError) as err:
        read_sog(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_sog_bad_json_truncated_zip_and_escaping_folder(tmp_path):
    files = sog_files(make_cloud(20, 0, np.random.default_rng(5)))
    bad = dict(files, **{"meta.json": b"{not json"})
    with pytest.raises(SceneError, match="meta.json does not parse"):
        read_sog(_bundle(tmp_path / "j.sog", bad))
    whole = _bundle(tmp_path / "w.sog", files).read_bytes()
    (tmp_path / "t.sog").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(SceneError, match="t.sog"):
        read_sog(tmp_path / "t.sog")
    meta = json.loads(files["meta.json"])
    meta["quats"]["files"] = ["../../etc/passwd"]
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "meta.json").write_text(json.dumps(meta))
    for name, data in files.items():
        if name != "meta.json":
            (tmp_path / "d" / name).write_bytes(data)
    with pytest.raises(SceneError, match="outside the folder"):
        read_sog(tmp_path / "d" / "meta.json")
    (tmp_path / "d" / "meta.json").write_text("[1, 2]")
    with pytest.raises(SceneError, match="not a JSON object"):
        load_splat_scene(tmp_path / "d" / "meta.json")


def test_sog_count_checked_before_images_are_read(tmp_path):
    path = _edited(tmp_path, _set("count", 5000))
    with pytest.raises(SceneError, match="accepted 0..1000"):
        read_sog(path, max_splats=1000)


def test_sog_meta_json_over_its_cap_is_refused_before_parsing(tmp_path):
    files = sog_files(make_cloud(20, 0, np.random.default_rng(6)))
    meta = json.loads(files["meta.json"])
    meta["padding"] = "x" * (1 << 20)
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(SceneError, match="meta.json"):
        read_sog(tmp_path / "meta.json")
