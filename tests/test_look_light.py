"""Light and the filmed look (issue #15): the baked AO darkens inner corners, shop light spills
onto the pavement at night, motion blur follows the camera's motion, grain is seeded."""

import numpy as np
import pytest

from citywalk.camera.track import CameraFrame, intrinsics, look_at
from citywalk.errors import ShotError
from citywalk.look.lighting import resolve_lighting
from citywalk.render.bake import bake_ao
from citywalk.render.color import LUMA
from citywalk.render.post import FILM_PRESETS
from citywalk.render.renderer import Renderer
from citywalk.scene import SHOPFRONT, Material, Scene
from citywalk.shot import FILM_LOOKS, LookSpec, Shot
from citywalk.sources.geometry import MeshBuilder

SIZE = (192, 108)
GREY = Material("grey", (0.4, 0.4, 0.4), 0.9)


def _corner_scene() -> Scene:
    """Ground and an L of two 6 m walls: wall A faces +y at y = 0.5 (x −5..5), wall B faces +x
    at x = −4 (y 0.5..10.5); their inner corner is at (−4, 0.5)."""
    b = MeshBuilder()
    b.quad(GREY, (-60, -60, 0), (120, 0, 0), (0, 120, 0))
    b.box(GREY, (0, 0, 0), (10.0, 1.0, 6.0))
    b.box(GREY, (-4.5, 5.5, 0), (1.0, 10.0, 6.0))
    return Scene(meshes=b.build(), bounds_m=((-20, -20, 0), (20, 20, 6)))


def _frame(eye, target, index=0, fov=60.0):
    R, t = look_at(np.asarray(eye, float), np.asarray(target, float))
    return CameraFrame(index, index / 24.0, R, t, intrinsics(fov, SIZE), SIZE)


def _patch_luma(img: np.ndarray, frame: CameraFrame, point) -> float:
    """Mean luminance of a 5×5 pixel patch around the projection of a world point."""
    u, v = frame.project(np.asarray([point], float))[0]
    i, j = int(round(v)), int(round(u))
    assert 2 <= i < SIZE[1] - 2 and 2 <= j < SIZE[0] - 2, (u, v)
    return float((img[i - 2:i + 3, j - 2:j + 3] @ LUMA).mean())


def test_bake_darkens_inner_corners_against_open_surfaces():
    vol = bake_ao(_corner_scene())
    up, py = np.array([[0, 0, 1.0]]), np.array([[0, 1.0, 0]])
    ground_corner = vol.sample([[-3.8, 0.7, 0.0]], up, contact=True)[0]
    ground_foot = vol.sample([[2.0, 0.7, 0.0]], up, contact=True)[0]
    ground_open = vol.sample([[12.0, 12.0, 0.0]], up, contact=True)[0]
    wall_corner = vol.sample([[-3.8, 0.5, 3.0]], py, contact=True)[0]
    wall_open = vol.sample([[3.0, 0.5, 3.0]], py, contact=True)[0]
    assert ground_open > 0.95 and wall_open > 0.95
    assert ground_corner <= 0.7 * ground_open
    assert ground_corner < ground_foot <= 0.8 * ground_open  # two walls hide more than one
    # a wall's view below the horizon is the ground's light, never hidden (bake.py): only the
    # upper quarter of its hemisphere can be, so an inner corner of two walls darkens less
    assert wall_corner <= 0.75 * wall_open
    # the sky seen from the foot of a 6 m wall: about half the hemisphere above the horizon is hidden
    sky_foot = vol.sample([[2.0, 0.7, 0.0]], up)[0]
    assert 0.3 < sky_foot < 0.7
    assert vol.sample([[3.0, 0.5, 3.0]], py)[0] > 0.8  # the open wall sees most of its sky (wall B is 7 m off)
    assert vol.stats["bake_s"] < 30


def test_bake_is_deterministic_and_made_once_per_scene():
    """An equal scene built anew reuses the bake (the metering and the frames' renderers share
    it); baked afresh it is the same, byte for byte; another scene is baked anew."""
    from citywalk.render import bake, lamps
    from citywalk.scene import PointLight

    bake._MEMO.clear()
    a = bake_ao(_corner_scene())
    assert bake_ao(_corner_scene()) is a and bake._MEMO.hits == 1
    assert not a.vis.flags.writeable  # shared, so frozen
    bake._MEMO.clear()
    fresh = bake_ao(_corner_scene())
    assert fresh is not a and np.array_equal(a.vis, fresh.vis)
    b = MeshBuilder()
    b.quad(GREY, (-60, -60, 0), (120, 0, 0), (0, 120, 0))
    b.box(GREY, (0, 0, 0), (10.0, 1.0, 6.0))  # wall A alone
    one_wall = bake_ao(Scene(meshes=b.build(), bounds_m=((-20, -20, 0), (20, 20, 6))))
    assert one_wall is not a and not np.array_equal(one_wall.vis, a.vis)
    lights = [PointLight((0.0, 0.0, 5.0)), PointLight((6.0, 2.0, 5.0))]
    v1 = lamps.lamp_volume(lights, (-10, -10), (10, 10))
    assert lamps.lamp_volume(list(lights), (-10, -10), (10, 10)) is v1
    v2 = lamps.lamp_volume(lights[:1], (-10, -10), (10, 10))
    assert v2 is not v1 and not np.array_equal(v1.total, v2.total)


def test_rendered_corner_is_darker_than_open_ground():
    scene = _corner_scene()
    light = resolve_lighting(LookSpec(when="noon", weather="overcast"))
    frame = _frame((8.0, 12.0, 4.0), (-2.0, 2.0, 0.3))
    seen = {}
    for baked in (True, False):
        r = Renderer(scene, light, SIZE, samples=1, auto_exposure=False, baked_light=baked, film="none")
        try:
            img = r.render(frame, linear=True)["linear"]
        finally:
            r.close()
        seen[baked] = _patch_luma(img, frame, (-3.7, 0.8, 0.0)), _patch_luma(img, frame, (4.0, 6.0, 0.0))
    corner_kept = seen[True][0] / seen[False][0]  # how much of its light the bake left the corner
    open_kept = seen[True][1] / seen[False][1]
    assert corner_kept <= 0.7 * open_kept, seen
    assert open_kept > 0.8, seen  # open ground keeps its light


def _shop_scene() -> Scene:
    """A wall facing +y with a 4 m lit shopfront at its foot, pavement in front, no lamps."""
    b = MeshBuilder()
    b.quad(GREY, (-40, -40, 0), (80, 0, 0), (0, 80, 0))
    b.box(GREY, (0, -0.5, 0), (20.0, 1.0, 8.0))
    glass = Material("shopfront", (0.25, 0.27, 0.30), 0.1, kind=SHOPFRONT, emissive=0.35)
    b.quad(glass, (-2.0, 0.02, 0.3), (4.0, 0, 0), (0, 0, 2.5), uv=((0, 0), (4.0, 2.5)))
    return Scene(meshes=b.build(), bounds_m=((-20, -20, 0), (20, 20, 8)))


def test_night_spill_lights_the_pavement_in_front_of_a_shop():
    scene = _shop_scene()
    light = resolve_lighting(LookSpec(when="night"))
    frame = _frame((0.0, 14.0, 2.5), (0.0, 0.0, 0.5))
    pave = {}
    for baked in (True, False):
        r = Renderer(scene, light, SIZE, samples=1, auto_exposure=False, baked_light=baked, film="none")
        try:
            img = r.render(frame, linear=True)["linear"]
            if baked:
                assert r.light.lamps.spill_count >= 2
        finally:
            r.close()
        pave[baked] = (_patch_luma(img, frame, (0.0, 3.0, 0.0)), _patch_luma(img, frame, (5.5, 3.0, 0.0)))
    near_lit, far_lit = pave[True]
    near_dark, far_dark = pave[False]
    assert near_lit > 3.0 * near_dark, pave
    assert near_lit > 3.0 * far_lit, pave  # the spill is local, not a global brightening


def _box_scene() -> Scene:
    b = MeshBuilder()
    b.quad(GREY, (-60, -60, 0), (120, 0, 0), (0, 120, 0))
    for k in range(-4, 5):
        b.box(Material(f"post{k}", (0.9, 0.9, 0.9) if k % 2 else (0.05, 0.05, 0.05), 0.9), (k * 1.5, 0, 0),
              (0.7, 0.7, 4.0))
    return Scene(meshes=b.build(), bounds_m=((-20, -20, 0), (20, 20, 4)))


def _grad_x(img: np.ndarray) -> float:
    return float(np.abs(np.diff(img.astype(float).mean(2), axis=1)).mean())


def test_motion_blur_is_zero_for_a_still_camera_and_smears_a_pan():
    scene = _box_scene()
    light = resolve_lighting(LookSpec(when="noon"))
    eye = np.array([0.0, 8.0, 1.7])
    frame = _frame(eye, (0.0, 0.0, 1.5), index=1)
    panned_from = _frame(eye, (2.0, 0.0, 1.5), index=0)  # the camera turned ~14° since the last frame
    r = Renderer(scene, light, SIZE, samples=1, auto_exposure=False, film="cinema")
    try:
        alone = r.render(frame)["rgb"]
        still = r.render(frame, previous=_frame(eye, (0.0, 0.0, 1.5), index=0))["rgb"]
        panned = r.render(frame, previous=panned_from)["rgb"]
    finally:
        r.close()
    assert np.array_equal(alone, still)
    assert _grad_x(panned) < 0.8 * _grad_x(still)
    r = Renderer(scene, light, SIZE, samples=1, auto_exposure=False, film="none")
    try:
        no_shutter = r.render(frame, previous=panned_from)["rgb"]
        sharp = r.render(frame)["rgb"]
    finally:
        r.close()
    assert np.array_equal(no_shutter, sharp)


def test_same_frame_same_grain_and_the_grain_moves_between_frames():
    scene = _box_scene()
    light = resolve_lighting(LookSpec(when="noon"))
    frames = [_frame((0.0, 8.0, 1.7), (0.0, 0.0, 1.5), index=i) for i in (3, 4)]
    out = []
    for _ in range(2):
        r = Renderer(scene, light, SIZE, samples=1, auto_exposure=False, film="cinema")
        try:
            out.append([r.render(f)["rgb"] for f in frames])
        finally:
            r.close()
    assert np.array_equal(out[0][0], out[1][0]) and np.array_equal(out[0][1], out[1][1])
    changed = np.mean(np.any(out[0][0] != out[0][1], axis=2))
    assert changed > 0.3  # same camera, next frame: the grain differs over most pixels
    r = Renderer(scene, light, SIZE, samples=1, auto_exposure=False, film="none")
    try:
        plain = r.render(frames[0])["rgb"].astype(float).mean(2)
    finally:
        r.close()
    filmed = out[0][0].astype(float).mean(2)
    h, w = plain.shape
    corner, centre = np.s_[: h // 6, : w // 8], np.s_[h // 2 - 8: h // 2 + 8, w // 2 - 8: w // 2 + 8]
    assert filmed[corner].mean() < 0.95 * plain[corner].mean()  # vignette
    assert abs(filmed[centre].mean() - plain[centre].mean()) < 0.04 * plain[centre].mean()


def test_film_field_is_validated_and_matches_the_renderer_presets():
    assert set(FILM_LOOKS) == set(FILM_PRESETS)
    assert Shot.from_dict({}).look.film == "cinema"
    assert Shot.from_dict({"look": {"film": "phone"}}).look.film == "phone"
    with pytest.raises(ShotError, match=r"look\.film.*'vhs'.*cinema, phone, none"):
        Shot.from_dict({"look": {"film": "vhs"}})


def test_soft_sun_shadows_compile_and_widen_the_penumbra():
    """PCSS is compiled out on llvmpipe for speed (GPU default); forced on it must still build,
    and a 12 m pole's shadow gets more partly lit pixels than with the hard map."""
    from citywalk.render.meshes import MeshPass

    b = MeshBuilder()
    b.quad(GREY, (-60, -60, 0), (120, 0, 0), (0, 120, 0))
    b.box(GREY, (0, 0, 0), (0.4, 0.4, 12.0))
    scene = Scene(meshes=b.build(), bounds_m=((-20, -20, 0), (20, 20, 12)))
    light = resolve_lighting(LookSpec(when="16:30"))
    frame = _frame((0.0, 0.0, 25.0), (0.0, 0.1, 0.0), fov=80.0)
    penumbra = {}
    for soft in (False, True):
        r = Renderer(scene, light, SIZE, samples=1, auto_exposure=False, film="none")
        try:
            r.scene_passes[0].release()
            r.scene_passes[0] = MeshPass(r.ctx, r.geometry, soft_shadows=soft)
            r.scene_passes[0].update_lighting(r.light)
            lum = r.render(frame, linear=True)["linear"] @ LUMA
            assert r.ctx.error == "GL_NO_ERROR"
        finally:
            r.close()
        lit, dark = np.percentile(lum, 90), np.percentile(lum, 0.5)
        part = (lum > dark + 0.25 * (lit - dark)) & (lum < dark + 0.75 * (lit - dark))
        penumbra[soft] = int(part.sum())
    assert penumbra[True] > 1.5 * penumbra[False] + 5, penumbra


def test_kind_programs_draw_what_the_generic_program_draws():
    """The scene's triangles are grouped by material kind (scene order kept within a kind), each
    kind is drawn by its own compiled program and the depth pre-pass splits off only foliage; the
    image matches one drawn with the generic program (reading the kind per vertex) for every kind."""
    from citywalk.render.geometry import depth_runs, interleave
    from citywalk.render.gl import shader_source
    from citywalk.render.meshes import mesh_fragment_source
    from citywalk.scene import EMISSIVE, FACADE, FOLIAGE, ROAD

    mats = {k: Material(f"k{k}", (0.5, 0.45, 0.4), 0.8, kind=k, emissive=2.0 if k == EMISSIVE else 0.0)
            for k in (FACADE, ROAD, EMISSIVE, SHOPFRONT, FOLIAGE)}
    b = MeshBuilder()
    b.quad(mats[ROAD], (-30, -30, 0), (60, 0, 0), (0, 60, 0), uv=((0, 0), (15, 15)))
    b.quad(mats[FACADE], (-6, 8, 0), (12, 0, 0), (0, 0, 9), uv=((0, 0), (4, 3)))
    b.box(GREY, (3, 5, 0), (1.5, 1.5, 2.0))
    b.quad(mats[SHOPFRONT], (-5, 7.9, 0.2), (4, 0, 0), (0, 0, 2.6), uv=((0, 0), (4, 2.6)))
    b.quad(mats[EMISSIVE], (1.5, 7.9, 3.0), (2, 0, 0), (0, 0, 0.8))
    b.quad(mats[FOLIAGE], (-2, 4, 0.5), (1.5, 0, 0), (0, 0, 2.0), two_sided=True)
    scene = Scene(meshes=b.build(), bounds_m=((-20, -20, 0), (20, 20, 9)))
    _, idx, ranges = interleave(scene, {})
    assert [k for k, _, _ in ranges] == sorted(k for k, _, _ in ranges)  # one group per kind, in order
    assert sum(c for _, _, c in ranges) == len(idx) and all(f == sum(c for _, _, c in ranges[:i])
                                                            for i, (_, f, _) in enumerate(ranges))
    assert [t for t, _, _ in depth_runs(ranges)] == [False, True]  # every kind but foliage, then foliage
    frame = _frame((0.0, -6.0, 1.7), (0.0, 8.0, 2.5), fov=70.0)
    r = Renderer(scene, resolve_lighting(LookSpec(when="dusk")), SIZE, samples=1, auto_exposure=False, film="none")
    try:
        specialised = r.render(frame, exposure=1.0)["rgb"].astype(int)
        mesh = r.scene_passes[0]
        _, frag = mesh_fragment_source(r.ctx)
        generic = r.ctx.program(vertex_shader=shader_source("mesh.vert"), fragment_shader=frag)
        mesh.kinds = [(generic, r.geometry.vertex_array(generic), first, count) for _, _, first, count in mesh.kinds]
        mesh.update_lighting(r.light)
        plain = r.render(frame, exposure=1.0)["rgb"].astype(int)
    finally:
        r.close()
    assert len(ranges) == 6 and specialised.std() > 5
    diff = np.abs(specialised - plain)
    assert diff.max() <= 2 and diff.mean() < 0.05, (diff.max(), diff.mean())


def test_mesh_programs_compile_in_only_the_light_they_need():
    """llvmpipe pays for a shader branch that a uniform switches off, so the mesh pass compiles in
    the sun, lamp and weather branches only for a light that has them: the programs follow the light,
    draw what the programs with every branch draw, and a light met again reuses its programs."""
    from citywalk.render.meshes import LIGHT_FEATURES

    frame = _frame((0.0, 14.0, 2.5), (0.0, 0.0, 0.5))
    looks = [LookSpec(when="night", weather="rain"), LookSpec(when="noon"), LookSpec(when="noon", weather="snow")]
    r = Renderer(_shop_scene(), resolve_lighting(looks[0]), SIZE, samples=1, auto_exposure=False, film="none")
    try:
        mesh, features = r.scene_passes[0], []
        for look in looks:
            r.update_lighting(resolve_lighting(look))
            features.append(set(mesh.features))
            own = r.render(frame, linear=True)["linear"]
            mesh._use_features(LIGHT_FEATURES)
            for p in mesh.programs():
                mesh._light_uniforms(p, r.light)
            every = r.render(frame, linear=True)["linear"]
            assert own.std() > 0.01 and np.allclose(own, every, rtol=1e-4, atol=1e-6), np.abs(own - every).max()
        made = len(mesh.progs)
        r.update_lighting(resolve_lighting(looks[0]))
        assert len(mesh.progs) == made and set(mesh.features) == features[0]
    finally:
        r.close()
    night, noon, snow = features
    assert {"HAS_LAMPS", "HAS_WET", "HAS_PUDDLES", "HAS_AMBIENT_CUBE"} <= night and "HAS_SUN" not in night
    assert "HAS_SUN" in noon and not noon & {"HAS_LAMPS", "HAS_WET", "HAS_SNOW"}
    assert "HAS_SNOW" in snow and "HAS_SUN" in snow


def test_a_part_of_two_kinds_compiles_only_their_branches():
    """An agent mesh of several material kinds (a car: paint and lamps) is shaded by a program
    holding only those kinds' branches (llvmpipe would run the facade's rooms and the road's
    manholes masked on every car pixel): its frame equals the every-kind program's."""
    from citywalk.agents.bodies import INSTANCE_FLOATS
    from citywalk.agents.traffic import car_mesh
    from citywalk.render.agents import AgentPass
    from citywalk.render.meshes import mesh_fragment_source
    from citywalk.scene import EMISSIVE, PLAIN, THIN

    b = MeshBuilder()
    b.quad(GREY, (-30, -30, 0), (60, 0, 0), (0, 60, 0), uv=((0, 0), (15, 15)))
    scene = Scene(meshes=b.build(), bounds_m=((-20, -20, 0), (20, 20, 5)))
    row = np.zeros((1, INSTANCE_FLOATS), np.float32)
    row[0, 0:3], row[0, 3:6], row[0, 6:9] = (1, 0, 0), (0, 1, 0), (0, 0, 1)
    row[0, 9:12], row[0, 12:15], row[0, 15] = (0, 0, 0), (0.6, 0.1, 0.1), 1.0
    frame = _frame((3.0, -6.0, 1.6), (0.0, 0.0, 0.6))
    r = Renderer(scene, resolve_lighting(LookSpec(when="night")), SIZE, samples=1, auto_exposure=False, film="none")
    try:
        shown: dict = {}
        cars = AgentPass(r.ctx, {"car": car_mesh()}, lambda index, cam: shown)
        r.add_pass(cars)
        assert cars.part_kind["car"] == frozenset({PLAIN, EMISSIVE})
        _, src = mesh_fragment_source(r.ctx, kind=frozenset({PLAIN, EMISSIVE, THIN}))
        assert f"#define KIND_SET {(1 << PLAIN) | (1 << EMISSIVE)} " in src  # thin tubes shade as plain
        road = r.render(frame, linear=True)["linear"]
        shown["car"] = row
        own = r.render(frame, linear=True)["linear"]
        cars.part_kind["car"] = None  # the program that reads every kind from the vertex
        cars.vaos.clear()
        cars.update_lighting(r.light)
        every = r.render(frame, linear=True)["linear"]
    finally:
        r.close()
    car = np.abs(own - road).sum(-1) > 1e-6
    assert car.mean() > 0.05 and own[car].max() > 4 * np.median(own[car])  # paint and lit lamps
    assert np.allclose(own, every, rtol=1e-4, atol=1e-6), np.abs(own - every).max()
