"""Studio API with an in-process client: job life cycle, plan limits, bad Shots, uploads, ranges,
token, host and origin guards. Renders are 1-second 160x90 Shots; the workers are real processes."""

import io
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
from fastapi.testclient import TestClient  # noqa: E402

from citywalk.studio import StudioError, create_app  # noqa: E402
from citywalk.studio.config import StudioConfig, UploadLimits  # noqa: E402

TINY = {"output": {"duration_s": 1, "size": [160, 90], "fps": 12}}
TOKEN = "s3cret-token-for-tests"


def config(tmp, **kw) -> StudioConfig:
    return StudioConfig(data_dir=tmp / "data", catalog_dir=tmp / "catalog", allowed_hosts=["testserver"], **kw)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("studio")
    with TestClient(create_app(config(tmp, uploads=UploadLimits(likeness_bytes=400_000)))) as c:
        yield c


def wait_final(c, job_id, timeout_s=120.0) -> dict:
    t = time.monotonic()
    while time.monotonic() - t < timeout_s:
        job = c.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout_s} s")


def wait_state(c, job_id, states, timeout_s=60.0) -> dict:
    t = time.monotonic()
    while time.monotonic() - t < timeout_s:
        job = c.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {states}")


def loc_of(resp) -> list:
    assert resp.status_code == 422, resp.text
    return resp.json()["detail"][0]["loc"]


def test_job_life_cycle_with_range_downloads(client):
    import av

    r = client.post("/api/v1/jobs", json={"shot": TINY})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["state"] in ("queued", "running") and job["kind"] == "render"
    done = wait_final(client, job["id"])
    assert done["state"] == "done", done["reason"]
    assert done["fraction"] == 1.0 and done["facts"]["frame_count"] == 12
    states = [e["state"] for e in client.get(f"/api/v1/jobs/{job['id']}/events").json()]
    assert states[0] == "queued" and states[-1] == "done" and "running" in states
    full = client.get(done["files"]["video"])
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    assert len(full.content) == done["facts"]["video_bytes"] and full.headers["accept-ranges"] == "bytes"
    with av.open(io.BytesIO(full.content)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 12
    part = client.get(done["files"]["video"], headers={"Range": "bytes=10-29"})
    assert part.status_code == 206 and part.content == full.content[10:30]
    assert part.headers["content-range"] == f"bytes 10-29/{len(full.content)}"
    tail = client.get(done["files"]["video"], headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == full.content[-16:]
    assert client.get(done["files"]["video"], headers={"Range": f"bytes={len(full.content) + 5}-"}).status_code == 416
    poster = client.get(done["files"]["poster"])
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"
    assert job["id"] in [j["id"] for j in client.get("/api/v1/jobs").json()["jobs"]]
    assert client.delete(f"/api/v1/jobs/{job['id']}").status_code == 204
    assert client.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert client.get(done["files"]["video"]).status_code == 404


def test_cancel_a_queued_and_a_running_job(client):
    long = {"output": {"duration_s": 8, "size": [160, 90], "fps": 12}}
    a = client.post("/api/v1/jobs", json={"shot": long}).json()
    b = client.post("/api/v1/jobs", json={"shot": TINY}).json()
    assert client.post(f"/api/v1/jobs/{b['id']}/cancel").json()["state"] == "cancelled"
    wait_state(client, a["id"], ("running",))
    assert client.delete(f"/api/v1/jobs/{a['id']}").status_code == 409  # running: cancel first
    assert client.post(f"/api/v1/jobs/{a['id']}/cancel").json()["state"] == "cancelled"
    time.sleep(1.0)
    for job_id in (a["id"], b["id"]):
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        assert job["state"] == "cancelled" and job["files"] == {} and job["reason"] == "cancelled by request"
        assert [e["state"] for e in client.get(f"/api/v1/jobs/{job_id}/events").json()][-1] == "cancelled"


def test_plan_limits_name_the_field(client):
    free = client.get("/api/v1/plan").json()
    assert free["name"] == "free" and free["max_duration_s"] == 10
    for change, field in (({"duration_s": 11}, "duration_s"), ({"size": [1920, 1080]}, "size"), ({"fps": 60}, "fps")):
        r = client.post("/api/v1/jobs", json={"shot": {"output": change}})
        assert loc_of(r) == ["body", "shot", "output", field]
        assert r.json()["detail"][0]["type"] == "plan_limit"
    r = client.post("/api/v1/preview", json={"shot": {"output": {"duration_s": 30}}, "at_s": 0})
    assert loc_of(r) == ["body", "shot", "output", "duration_s"]


@pytest.mark.parametrize("shot, where", [
    ({"output": {"duration_s": -1}}, ["output", "duration_s"]),
    ({"output": {"size": [161, 90]}}, ["output", "size"]),
    ({"camera": {"rig": "crane"}}, ["camera", "rig"]),
    ({"look": {"when": "teatime"}}, ["look", "when"]),
    ({"look": {"weather": "sunnyish"}}, ["look", "weather"]),
    ({"scene": {"style": "/etc/passwd.toml"}}, ["scene", "style"]),
    ({"scene": {"source": "mesh", "path": "../../etc/passwd"}}, ["scene", "path"]),
    ({"scene": {"source": "splat", "path": "/root/scene.ply"}}, ["scene", "path"]),
    ({"scene": {"source": "tiles", "path": "tiles/tileset.json"}}, ["scene", "source"]),
    ({"actors": [{"likeness": "/home/me/me.actor"}]}, ["actors", 0, "likeness"]),
    ({"colour": "blue"}, ["colour"]),
])
def test_bad_shots_are_422_naming_the_field(client, shot, where):
    assert loc_of(client.post("/api/v1/jobs", json={"shot": shot})) == ["body", "shot", *where]


def test_preview_follows_the_time_of_day(client):
    from PIL import Image

    def frame(when):
        r = client.post("/api/v1/preview", json={"shot": {**TINY, "look": {"when": when}}, "at_s": 0.5})
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", r.text
        return r, np.asarray(Image.open(io.BytesIO(r.content)), float)

    r_noon, noon = frame("noon")
    _, night = frame("night")
    assert noon.shape == (90, 160, 3) and noon.mean() > night.mean() + 20
    assert r_noon.headers["x-local-time"] == "11:42" and float(r_noon.headers["x-sun-altitude-deg"]) > 60
    again, _ = frame("noon")
    assert again.headers["x-preview-cached"] == "1" and again.content == r_noon.content
    assert loc_of(client.post("/api/v1/preview", json={"shot": TINY, "at_s": 5})) == ["body", "at_s"]


def test_listings_cover_what_the_cli_offers(client):
    opts = client.get("/api/v1/options").json()
    assert {s["name"] for s in opts["styles"]} >= {"tokyo", "paris", "new_york"}
    assert {"clear", "fog", "thunderstorm", "heavy_snow"} <= {w["name"] for w in opts["weathers"]}
    assert [t["name"] for t in opts["times"]][:3] == ["dawn", "morning", "noon"]
    assert {"walk", "follow", "side", "orbit", "drone"} <= {r["name"] for r in opts["rigs"]}
    assert opts["scenes"] == [] and opts["actors"] == [] and opts["worlds"] == []
    thumb = client.get(opts["styles"][0]["thumbnail"])
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"
    times = client.get("/api/v1/times", params={"lat": 48.86, "lon": 2.35, "date": "2026-12-21"}).json()
    assert all(t["local_time"] for t in times)
    r = client.post("/api/v1/prompt", json={"text": "a foggy morning walk in paris, camera from the side"})
    shot = r.json()["shot"]
    assert (shot["scene"]["style"], shot["look"]["weather"], shot["camera"]["rig"]) == ("paris", "fog", "side")
    assert client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/jobs"]["post"]


def test_uploads_of_wrong_type_or_size_are_refused(client):
    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (64, 64), (40, 200, 40)).save(png, "PNG")
    form = {"name": "someone", "height_m": "1.7"}
    r = client.post(
        "/api/v1/actors", data=form, files={"file": ("me.exe", b"MZ\x90\x00" * 100, "application/octet-stream")}
    )
    assert r.status_code == 415 and "accepted" in r.json()["detail"]
    r = client.post("/api/v1/actors", data=form, files={"file": ("me.jpg", png.getvalue(), "image/jpeg")})
    assert r.status_code == 415 and "not what its name says" in r.json()["detail"]
    big = b"\x89PNG\r\n\x1a\n" + bytes(500_000)
    r = client.post("/api/v1/actors", data=form, files={"file": ("me.png", big, "image/png")})
    assert r.status_code == 413
    r = client.post(
        "/api/v1/worlds", data={"name": "town"}, files={"file": ("town.glb", b"not a glb", "model/gltf-binary")}
    )
    assert r.status_code == 415
    r = client.post(
        "/api/v1/actors", data={"name": "../../x", "height_m": "1.7"}, files={"file": ("me.png", png.getvalue())}
    )
    assert loc_of(r) == ["body", "name"]
    r = client.post("/api/v1/captures", data={"name": "street", "consent": "false"},
                    files=[("files", ("a.jpg", b"\xff\xd8\xff" + bytes(100), "image/jpeg"))])
    assert loc_of(r) == ["body", "consent"]
    assert client.post("/api/v1/jobs", content=b"{" + b" " * (3 << 20) + b"}",
                       headers={"content-type": "application/json"}).status_code == 413
    assert not any((client.app.state.studio.data.root / "uploads").iterdir())


def test_likeness_upload_becomes_an_actor_for_shots(client):
    from PIL import Image
    from skimage import data as skimage_data

    jpg = io.BytesIO()
    Image.fromarray(skimage_data.astronaut()).resize((256, 256)).save(jpg, "JPEG", quality=90)
    r = client.post("/api/v1/actors", data={"name": "astro", "height_m": "1.7"},
                    files={"file": ("astronaut.jpg", jpg.getvalue(), "image/jpeg")})
    assert r.status_code == 202, r.text
    job = wait_final(client, r.json()["id"])
    assert job["state"] == "done", job["reason"]
    actors = client.get("/api/v1/actors").json()
    assert [a["name"] for a in actors] == ["astro"] and actors[0]["thumbnail"]
    assert client.get(actors[0]["thumbnail"]).content[:4] == b"\x89PNG"
    shot = {**TINY, "camera": {"rig": "follow"}, "actors": [{"likeness": "astro"}]}
    # the astronaut photo is waist-up: placing it full-body is refused with the reason, not floated
    refused = client.post("/api/v1/preview", json={"shot": shot, "at_s": 0.5})
    assert refused.status_code == 422 and "upper body" in refused.text, refused.text
    r = client.post("/api/v1/actors", data={"name": "astro", "height_m": "1.7"},
                    files={"file": ("astronaut.jpg", jpg.getvalue(), "image/jpeg")})
    assert r.status_code == 409


def test_a_capture_that_cannot_become_a_scene_fails_with_reasons(client):
    from citywalk.video.encode import VideoWriter

    path = client.app.state.studio.data.root.parent / "black.mp4"
    w = VideoWriter(path, 12, (64, 64))
    for _ in range(12):
        w.write(np.zeros((64, 64, 3), np.uint8))
    w.close()
    r = client.post("/api/v1/captures", data={"name": "dark-street", "consent": "true"},
                    files=[("files", ("walk.mp4", path.read_bytes(), "video/mp4"))])
    assert r.status_code == 202, r.text
    job = wait_final(client, r.json()["id"])
    assert job["state"] == "failed" and "rejected" in job["reason"]
    scenes = client.get("/api/v1/scenes").json()
    assert scenes[0]["name"] == "dark-street" and scenes[0]["status"] == "failed" and scenes[0]["reasons"]


def test_path_parameters_never_reach_the_filesystem(client):
    assert client.get("/api/v1/jobs/..%2F..%2Fetc%2Fpasswd").status_code in (404, 422)
    assert client.get("/api/v1/jobs/" + "0" * 32).status_code == 404
    assert client.get("/api/v1/jobs/" + "0" * 32 + "/files/video").status_code == 404
    assert client.get("/api/v1/jobs/" + "0" * 32 + "/files/..%2F..%2Fstudio.sqlite").status_code in (404, 422)
    assert client.get("/api/v1/styles/..%2F..%2Fshot/thumbnail").status_code in (404, 422)
    assert client.get("/static/../studio.sqlite").status_code == 404


def test_token_host_and_origin_guards(tmp_path):
    app = create_app(config(tmp_path, token=TOKEN, tokens={"pro-token-0123456789": "pro"}))
    with TestClient(app) as c:
        assert c.get("/").status_code == 200  # the page shell, to show the log-in
        assert c.get("/api/v1/session").json() == {"required": True, "authenticated": False, "plan": None}
        assert c.get("/api/v1/jobs").status_code == 401
        assert c.get("/api/v1/openapi.json").status_code == 401
        assert c.get("/api/v1/jobs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/v1/jobs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        pro = c.get("/api/v1/plan", headers={"Authorization": "Bearer pro-token-0123456789"}).json()
        assert pro["name"] == "pro" and pro["max_duration_s"] == 120
        assert c.post("/api/v1/session", json={"token": "nope"}).status_code == 401
        login = c.post("/api/v1/session", json={"token": TOKEN})
        assert login.status_code == 204 and "httponly" in login.headers["set-cookie"].lower()
        assert c.get("/api/v1/jobs").status_code == 200  # the cookie now
        assert c.get("/api/v1/health", headers={"Host": "evil.example"}).status_code == 421
        r = c.post("/api/v1/prompt", json={"text": "tokyo"}, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
        r = c.get("/api/v1/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in r.headers and r.headers["x-frame-options"] == "DENY"


def test_refuses_to_listen_beyond_loopback_without_a_token(tmp_path):
    with pytest.raises(StudioError, match="token"):
        StudioConfig(host="0.0.0.0", data_dir=tmp_path).check_can_start()
    StudioConfig(host="0.0.0.0", data_dir=tmp_path, token=TOKEN).check_can_start()
    out = subprocess.run(
        [sys.executable, "-m", "citywalk.cli", "serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(__import__("pathlib").Path(__file__).parents[1])},
    )
    assert out.returncode == 2 and "token" in out.stderr and "Traceback" not in out.stderr


def test_disk_quota_is_checked_before_a_job_starts(tmp_path):
    with TestClient(create_app(config(tmp_path, quota_bytes=1 << 20))) as c:
        r = c.post("/api/v1/jobs", json={"shot": {"output": {"duration_s": 10, "size": [1280, 720]}}})
        assert r.status_code == 507 and "quota" in r.json()["detail"]
        studio = c.app.state.studio
        job = studio.store.submit("render", "free", {}, {"shot": {}}, estimate_bytes=5 << 20)
        studio.scheduler.wake.set()
        done = wait_final(c, job.id, 20)
        assert done["state"] == "failed" and done["reason"].startswith("disk quota")
