"""The `citywalk` command. Every subcommand builds a Shot (from a prompt, a file and flags) and
hands it to the pipeline; bad input ends in one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import CitywalkError, ShotError
from .registry import SCENE_SOURCES

if TYPE_CHECKING:
    from .shot import Shot

SHOT_SUFFIXES = (".yaml", ".yml", ".json")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors in citywalk's format (no usage dump)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"citywalk: error: {message} (see '{self.prog} --help')\n")


def _size(text: str) -> list[int]:
    try:
        w, h = text.lower().split("x")
        return [int(w), int(h)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not WIDTHxHEIGHT (e.g. 1280x720)") from None


def _add_shot_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", nargs="?", help="a Shot file (.yaml/.json) or a text prompt in quotes")
    p.add_argument("--style", help="city style: tokyo, or a path to a style .toml")
    world = p.add_mutually_exclusive_group()
    for kind in SCENE_SOURCES.values():
        if kind.cli_flag:
            world.add_argument(kind.cli_flag, dest=kind.name, help=kind.cli_help)
    p.add_argument("--up", choices=["auto", "z", "y", "-y"], help="up axis of the file (auto: estimate, for splats)")
    p.add_argument("--scale", type=float, help="multiply the file's units by this to get metres")
    p.add_argument("--path", dest="path_file", help="waypoints JSON: [[x, y], ...] in scene metres")
    p.add_argument(
        "--actor",
        action="append",
        help="put a captured person in the shot: me.actor[:ahead|beside|toward|fixed[:distance_m]]",
    )
    p.add_argument("--route", dest="route_latlon", help='waypoints as "lat,lon;lat,lon;..."')
    p.add_argument("--seed", type=int, help="random seed of the procedural street")
    p.add_argument(
        "--time", dest="when", help="ISO date-time, HH:MM, or dawn|morning|noon|afternoon|golden_hour|dusk|night"
    )
    p.add_argument("--date", help="date for HH:MM and presets (YYYY-MM-DD)")
    p.add_argument("--lat", type=float, help="latitude in degrees (for the sun)")
    p.add_argument("--lon", type=float, help="longitude in degrees")
    p.add_argument("--tz", help="time zone: IANA name or offset like +09:00 (default: from longitude)")
    p.add_argument("--weather", help="weather preset: clear, cloudy, overcast, fog, ... (e.g. hard_rain_night)")
    p.add_argument("--exposure-ev", type=float, help="exposure compensation in stops")
    p.add_argument("--duration", type=float, help="clip length in seconds (max 600)")
    p.add_argument("--fps", type=int, help="frames per second (max 60)")
    p.add_argument("--size", type=_size, help="WIDTHxHEIGHT, e.g. 1280x720")
    p.add_argument("--camera", dest="rig", help="walk | follow | side | front | orbit | drone | keys.json (keyframes)")
    p.add_argument("--street", choices=["auto", "side", "main", "any"], help="which street the automatic walk takes")
    p.add_argument("--speed", type=float, dest="speed_mps", help="walking speed in m/s")
    p.add_argument("--fov", type=float, dest="fov_deg", help="horizontal field of view in degrees")
    p.add_argument("--samples", type=int, help="anti-aliasing samples per pixel: 1, 2, 4 or 8")
    p.add_argument("--extras", help="comma list of depth,camera_track,frames")
    p.add_argument("--crf", type=int, help="H.264 quality (0 best .. 51 worst, default 20)")
    p.add_argument("--splat-budget", type=int, dest="splat_budget",
                   help="most Gaussians drawn per frame (level of detail beyond); default per device")
    p.add_argument("--render-scale", type=float, dest="render_scale",
                   help="draw each side this much smaller (0.25..1), then upscale to --size: 0.67 ~1.5x faster")
    p.add_argument("--draft", action="store_true",
                   help="preview cost: half the size, 1 sample, no depth/frames extras (same walk and look)")


def build_shot(args: argparse.Namespace) -> tuple["Shot", list[str]]:
    """The Shot the arguments describe, and warnings (unknown prompt words) to show the user."""
    from .shot import Shot

    warnings: list[str] = []
    src = args.source
    if src and (Path(src).suffix.lower() in SHOT_SUFFIXES):
        shot = Shot.load(src)
    elif src:
        from .prompt import parse_prompt

        result = parse_prompt(src)
        shot = result.shot
        if result.unknown:
            warnings.append("words not understood: " + ", ".join(result.unknown))
        from .prompt import ACTOR_NOTE

        warnings.extend(n for n in result.notes if not (n == ACTOR_NOTE and getattr(args, "actor", None)))
    else:
        shot = Shot()
    changes: dict = {"scene": {}, "camera": {}, "look": {}, "output": {}}
    for key, section in (("style", "scene"), ("seed", "scene"), ("when", "look"), ("date", "look"),
                         ("lat", "look"), ("lon", "look"), ("tz", "look"), ("weather", "look"),
                         ("exposure_ev", "look"), ("rig", "camera"), ("street", "camera"),
                         ("speed_mps", "camera"), ("fov_deg", "camera"), ("fps", "output"),
                         ("size", "output"), ("samples", "output"), ("crf", "output"),
                         ("splat_budget", "output"), ("render_scale", "output")):
        value = getattr(args, key, None)
        if value is not None:
            changes[section][key] = value
    if getattr(args, "duration", None) is not None:
        changes["output"]["duration_s"] = args.duration
    if getattr(args, "extras", None):
        changes["output"]["extras"] = [e.strip() for e in args.extras.split(",") if e.strip()]
    if getattr(args, "actor", None):
        actors = []
        for text in args.actor:
            path, _, rest = text.partition(":")
            placement, _, dist = rest.partition(":")
            a = {"likeness": path}
            if placement:
                a["placement"] = placement
            if dist:
                try:
                    a["distance_m"] = float(dist)
                except ValueError:
                    raise ShotError(f"--actor '{text}': distance '{dist}' is not a number of metres") from None
            actors.append(a)
        changes["actors"] = actors
    rig = changes["camera"].get("rig")
    if rig and rig.lower().endswith(".json"):
        from .camera.paths_io import read_keyframes

        changes["camera"]["rig"] = "keyframes"
        changes["camera"]["keyframes"] = [k.to_dict() for k in read_keyframes(rig)]
    for source in SCENE_SOURCES:
        if getattr(args, source, None):
            changes["scene"].update(source=source, path=getattr(args, source))
    for key in ("up", "scale"):
        if getattr(args, key, None) is not None:
            changes["scene"][key] = getattr(args, key)
    if getattr(args, "path_file", None):
        changes["camera"]["route"] = _read_waypoints(args.path_file)
    if getattr(args, "route_latlon", None):
        changes["camera"]["route_latlon"] = _parse_latlon_route(args.route_latlon)
    weather = changes["look"].get("weather")
    if weather:
        from .look.weather import split_preset

        name, when = split_preset(weather)
        changes["look"]["weather"] = name
        if when and "when" not in changes["look"]:
            changes["look"]["when"] = when
    out = getattr(args, "output", None)
    if out:
        changes["output"]["path"] = out
    shot = shot.updated({k: v for k, v in changes.items() if v}, source="command line")
    if getattr(args, "draft", False):
        from .pipeline import draft_shot

        shot = draft_shot(shot)
    return shot, warnings


def _shot_with_warnings(args) -> "Shot":
    """build_shot, printing its warnings (unknown prompt words, notes) on stderr."""
    shot, warnings = build_shot(args)
    for w in warnings:
        print(f"citywalk: warning: {w}", file=sys.stderr)
    return shot


def _read_waypoints(path: str) -> list:
    """Waypoints from JSON: [[x, y(, z)], ...] or {"waypoints": [...]}, in scene metres."""
    from .safeio import read_text_capped

    p = Path(path)
    text = read_text_capped(p, 10_000_000, "--path", ShotError)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ShotError(f"--path {p}: not a waypoint JSON file ({exc})") from None
    if isinstance(data, dict):
        data = data.get("waypoints")
    if not isinstance(data, list):
        raise ShotError(f"--path {p}: expected a list of [x, y] waypoints or {{\"waypoints\": [...]}}")
    return data


def _parse_latlon_route(text: str) -> list[list[float]]:
    try:
        pts = [[float(v) for v in part.split(",")] for part in text.split(";") if part.strip()]
    except ValueError:
        raise ShotError(f"--route '{text}': expected \"lat,lon;lat,lon;...\"") from None
    if any(len(p) != 2 for p in pts):
        raise ShotError(f"--route '{text}': each point is lat,lon")
    return pts


def cmd_render(args) -> int:
    from .pipeline import render_shot

    shot = _shot_with_warnings(args)
    if getattr(args, "restyle", None):
        shot = shot.updated({"output": {"restyle": {"prompt": args.restyle}}}, source="--restyle")
    if args.farm == "local":
        result = render_shot(shot)
    else:
        from .farm import executor_from_spec
        from .farm import render_shot as render_on_farm

        with executor_from_spec(args.farm) as executor:
            result = render_on_farm(shot, executor)
    t = result.timings_s
    print(f"wrote {result.video} ({result.frames} frames, {shot.output.size[0]}x{shot.output.size[1]}, "
          f"{shot.output.fps} fps) in {t['total_s']:.1f} s — render {t['render_fps']:.1f} fps, "
          f"{t['realtime_factor']:.2f}x real time")
    for key, path in result.extras.items():
        print(f"wrote {key}: {path}")
    return 0


def cmd_still(args) -> int:
    from .pipeline import render_still
    from .video.exports import write_png

    shot = _shot_with_warnings(args)
    img = render_still(shot, args.at)
    out = args.output or "still.png"
    write_png(out, img)
    print(f"wrote {out}")
    return 0


def cmd_look_sheet(args) -> int:
    from .sheets import SHEET_TIMES, SHEET_WEATHERS, look_sheet
    from .video.exports import write_png

    shot = _shot_with_warnings(args)
    times = args.times.split(",") if args.times else SHEET_TIMES
    weathers = args.weathers.split(",") if args.weathers else SHEET_WEATHERS
    cell = _size(args.cell) if args.cell else [320, 180]
    img = look_sheet(shot, times, weathers, tuple(cell), at_s=args.at)
    out = args.output or "look_sheet.png"
    write_png(out, img)
    print(f"wrote {out} ({len(times)} times x {len(weathers)} weathers)")
    return 0


def cmd_shot(args) -> int:
    shot = _shot_with_warnings(args)
    sys.stdout.write(shot.to_json() + "\n" if args.json else shot.to_yaml())
    return 0


def cmd_styles(args) -> int:
    from .sources.procedural.style import builtin_styles, load_style, write_starter_style

    if args.action == "new":
        if not args.name:
            raise ShotError("citywalk styles new NAME: give a name for the new style")
        path = Path(args.name if args.name.endswith(".toml") else f"{args.name}.toml")
        print(f"wrote {write_starter_style(path, name=path.stem)} — edit it, then: citywalk render --style {path}")
        return 0
    if args.action == "sheet":
        from .sheets import styles_sheet
        from .video.exports import write_png

        names = args.name.split(",") if args.name else builtin_styles()
        size = tuple(_size(args.cell)) if args.cell else (480, 270)
        out = args.output or "styles.png"
        write_png(out, styles_sheet(names, when=args.time or "golden_hour", size=size))
        print(f"wrote {out} ({len(names)} styles)")
        return 0
    if args.action == "grid":
        from .sheets import styles_grid
        from .video.exports import write_png

        names = args.name.split(",") if args.name else builtin_styles()
        size = tuple(_size(args.cell)) if args.cell else (320, 180)
        out = args.output or "styles_grid.png"
        write_png(out, styles_grid(names, size=size))
        print(f"wrote {out} ({len(names)} styles × main/side street × noon/night)")
        return 0
    if args.action == "list":
        for name in builtin_styles():
            print(f"{name:12s} {load_style(name).description}")
    elif args.action == "show":
        if not args.name:
            raise ShotError("citywalk styles show NAME: give a style name")
        print(json.dumps(load_style(args.name).model_dump(), indent=2))
    return 0


def cmd_capture(args) -> int:
    if args.capture_command == "submit":
        from .capture.catalog import CaptureMeta, default_catalog_root
        from .capture.intake import submit

        meta = CaptureMeta(place=args.place or "", lat=args.lat, lon=args.lon, device=args.device or "",
                           contributor=args.contributor or "", licence=args.licence, consent=args.consent)
        entry = submit(args.catalog or default_catalog_root(), args.source, meta, name=args.name)
        print(f"stored capture '{entry.name}' ({entry.kind}); next: citywalk capture process {entry.name}")
        return 0
    if args.capture_command == "process":
        from .capture.catalog import default_catalog_root
        from .capture.evaluate import eval_options
        from .capture.process import process_capture
        from .video.progress import progress

        opts = eval_options(args.iterations, args.budget_s, args.train_side, camera_model=args.lens)
        if args.poses:  # paths relative to where the command runs
            kind, sep, where = args.poses.partition(":")
            opts.poses = f"{kind}:{Path(where).resolve()}" if sep and where else args.poses
        with progress(1000, "capture") as bar:
            def on_fraction(f: float) -> None:
                bar.update(max(0, int(f * 1000) - bar.count))

            catalog = args.catalog or default_catalog_root()
            if args.farm == "local":
                entry = process_capture(catalog, args.name, opts, on_fraction=on_fraction)
            else:
                from .farm import executor_from_spec
                from .farm import process_capture as process_on_farm

                with executor_from_spec(args.farm) as executor:
                    entry = process_on_farm(catalog, args.name, opts, on_fraction, executor)
        if entry.status != "processed":
            raise ShotError(f"capture '{entry.name}' failed: " + "; ".join(entry.reasons))
        print(f"processed '{entry.name}': {entry.scene_ply}; walk it: citywalk render --splat {entry.name}")
        return 0
    import time

    from .capture.evaluate import eval_options, evaluate_synthetic
    from .pipeline import render_synthetic_walk

    w, h = _size(args.size)
    out = Path(args.out or "capture_eval")
    t = time.perf_counter()
    video, track = render_synthetic_walk(out, frames=args.frames, size_px=(w, h), fps=24)
    render_s = time.perf_counter() - t
    figures = evaluate_synthetic(out, video, track, opts=eval_options(args.iterations, args.budget_s, args.train_side),
                                 holdout_every=8)
    figures["render_synthetic_s"] = render_s
    print(json.dumps(figures, indent=1, default=str))
    return 0


def cmd_scenes(args) -> int:
    from .capture.catalog import list_scenes, remove_scene, show_scene

    if args.action == "list":
        for row in list_scenes(args.catalog, status=args.status):
            print(f"{row['name']:20s} {row['status']:10s} {row['place'] or '-':24s} {row['scene_ply'] or ''}")
        return 0
    if not args.name:
        raise ShotError(f"citywalk scenes {args.action} NAME: give a scene name")
    if args.action == "show":
        print(json.dumps(show_scene(args.name, args.catalog), indent=2, default=str))
    else:
        removed = remove_scene(args.name, args.catalog)
        print(f"removed '{removed['name']}'")
    return 0


def cmd_likeness(args) -> int:
    from .likeness.capture import capture_to_file

    out = capture_to_file(args.source, args.height_m, args.output, method=args.method)
    print(f"wrote {out}")
    return 0


def cmd_models(args) -> int:
    from .generate.backends import backend_status, extra_installed, models_root

    ok, missing = extra_installed()
    print(f"generate extra: {'installed' if ok else 'missing ' + ', '.join(missing)}; model folder: {models_root()}")
    for row in backend_status():
        state = "ready" if row["usable"] else "missing"
        print(f"{row['backend']:15s} {state:8s} {row['task']}")
        for role, model in row["models"].items():
            where = row["found"].get(role)
            if where:
                print(f"    {role}: {model} → {where}")
            elif row["backend"] == "world_model":
                print(f"    {role}: {model} (pass a local path)")
            else:
                print(f"    {role}: {model} (not here: put it in {models_root() / model.replace('/', '--')} "
                      "or the Hugging Face cache)")
        print(f"    hardware: {row['hardware']}")
    return 0


def _read_video(path: str):
    """All frames of a video as (N, H, W, 3) uint8, and its frame rate."""
    import numpy as np

    from .errors import VideoError
    from .media import VideoFile

    video = VideoFile(path, VideoError, "video")
    fps = video.probe().fps or 24.0
    return np.stack([f.rgb for f in video.frames()]), fps


def _write_video(path: str, frames, fps: float) -> None:
    from .video.encode import VideoWriter

    with VideoWriter(path, max(1, int(round(fps))), (frames.shape[2], frames.shape[1])) as writer:
        for frame in frames:
            writer.write(frame)


def cmd_extend(args) -> int:
    from .generate.outpaint import extend_canvas

    frames, fps = _read_video(args.source)
    out = extend_canvas(frames, args.aspect, prompt=args.prompt or "", seed=args.seed, model=args.model,
                        steps=args.steps)
    target = args.output or str(Path(args.source).with_suffix("")) + f"_{args.aspect.replace(':', 'x')}.mp4"
    _write_video(target, out, fps)
    print(f"wrote {target} ({out.shape[2]}x{out.shape[1]}, {len(out)} frames)")
    return 0


def _lens(args):
    from .video.footage import Lens

    return Lens(args.lens, args.in_fov_deg)


def cmd_footage(args) -> int:
    from .video import footage as fo

    if args.footage_command == "walk":
        opts = fo.WalkOptions(fov_deg=args.fov_deg, speed_mps=args.speed_mps, reverse=args.reverse,
                              sidewalk=args.sidewalk, sidewalk_offset_m=args.sidewalk_offset_m, lens=_lens(args),
                              size_px=tuple(_size(args.size)) if args.size else None,
                              source_speed_mps=args.source_speed_mps, camera_height_m=args.camera_height_m,
                              stabilise=not args.no_stabilise, step_hz=args.step_hz, bob_deg=args.bob_deg,
                              sway_deg=args.sway_deg)
        report = fo.footage_walk(args.source, args.output, opts)
        print(f"wrote {args.output}: " + json.dumps(report))
        return 0
    opts = fo.DatasetOptions(clip_s=args.clip_s, stride_s=args.stride_s, fov_deg=args.fov_deg,
                             size_px=tuple(_size(args.size)), lens=_lens(args), fps=args.fps)
    manifest = fo.cut_dataset(args.source, args.output, opts)
    print(f"wrote {manifest} ({len(fo.read_manifest(manifest)['clips'])} clips)")
    return 0


def _add_footage_parsers(sub) -> None:
    fp = sub.add_parser("footage", help="dash-cam footage → a walk, or → fixed-length training clips")
    fsub = fp.add_subparsers(dest="footage_command", required=True, parser_class=_Parser)
    walk = fsub.add_parser("walk", help="undistort, stabilise, retime to walking speed, bob; optional reverse")
    walk.add_argument("source", help="dash-cam video")
    walk.add_argument("-o", "--output", required=True, help="output .mp4")
    walk.add_argument("--speed-mps", type=float, default=1.4, help="walking speed to retime to (default 1.4)")
    walk.add_argument("--source-speed-mps", type=float,
                      help="the car's speed (default: measured from the road's flow and --camera-height-m)")
    walk.add_argument("--camera-height-m", type=float, default=1.4, help="dash-cam height above the road")
    walk.add_argument("--reverse", action="store_true", help="play the drive backwards")
    walk.add_argument("--sidewalk", choices=["left", "right"], help="move the view toward this sidewalk")
    walk.add_argument("--sidewalk-offset-m", type=float, default=2.5, help="how far to move it (default 2.5)")
    walk.add_argument("--no-stabilise", action="store_true", help="keep the camera's own shake")
    walk.add_argument("--step-hz", type=float, default=1.95, help="steps per second of the head bob")
    walk.add_argument("--bob-deg", type=float, default=0.35, help="head bob amplitude (pitch, degrees)")
    walk.add_argument("--sway-deg", type=float, default=0.25, help="sway amplitude (yaw, degrees)")
    data = fsub.add_parser("dataset", help="cut long drives into FOV-normalised clips with a manifest")
    data.add_argument("source", help="folder of driving videos")
    data.add_argument("-o", "--output", required=True, help="folder for the clips and manifest.json")
    data.add_argument("--clip-s", type=float, default=4.0, help="clip length in seconds (default 4)")
    data.add_argument("--stride-s", type=float, help="seconds between clip starts (default: clip length)")
    data.add_argument("--fps", type=float, help="resample clips to this frame rate (default: the source's)")
    for q in (walk, data):
        q.add_argument("--fov-deg", type=float, default=60.0, help="horizontal field of view out (default 60)")
        q.add_argument("--size", default=None if q is walk else "256x144",
                       help="WIDTHxHEIGHT out" + (" (default: the input's)" if q is walk else " (default 256x144)"))
        q.add_argument("--lens", default="equidistant", choices=["equidistant", "equisolid", "stereographic",
                                                                 "rectilinear"], help="the camera's projection")
        q.add_argument("--in-fov-deg", type=float, default=150.0, help="the camera's horizontal field of view")
    fp.set_defaults(func=cmd_footage)


def _add_generate_parsers(sub) -> None:
    m = sub.add_parser("models", help="list the generative backends and whether their weights are here")
    m.set_defaults(func=cmd_models)
    e = sub.add_parser("extend", help="outpaint a video to a new aspect (e.g. 16:9 → 9:16)")
    e.add_argument("source", help="input video")
    e.add_argument("--aspect", required=True, help="new aspect W:H, e.g. 9:16")
    e.add_argument("-o", "--output", help="output .mp4 (default: beside the input)")
    e.add_argument("--prompt", help="what the new area shows")
    e.add_argument("--model", help="inpainting checkpoint: a local folder or a cached repository id")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--steps", type=int, default=30)
    e.set_defaults(func=cmd_extend)


def _add_serve_parser(sub) -> None:
    sv = sub.add_parser("serve", help="the Studio: a web page and REST API for ordering walk videos")
    sv.add_argument("--host", help="address to listen on (default 127.0.0.1; others need --token)")
    sv.add_argument("--port", type=int, help="port (default 8000)")
    sv.add_argument("--data-dir", help="jobs, uploads and the job store (default ~/.citywalk/studio)")
    sv.add_argument("--token", help="required on every request (default $CITYWALK_STUDIO_TOKEN)")
    sv.add_argument("--catalog", help="captured scenes (default $CITYWALK_CATALOG or DATA_DIR/captures)")
    sv.add_argument("--workers", type=int, help="render processes at once (default 1)")
    sv.add_argument("--config", help="a studio.toml with plans, limits, tokens, quotas")
    sv.set_defaults(func=cmd_serve)


def _add_farm_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--farm", default="local", metavar="WHERE",
                   help="where the work runs: local (default, this process), ray (a Ray started here), "
                        "auto (the cluster in RAY_ADDRESS) or ray://host:port")


def cmd_serve(args) -> int:
    from .studio.config import load_config
    from .studio.server import serve

    config = load_config(args.config, host=args.host, port=args.port, data_dir=args.data_dir, token=args.token,
                         catalog_dir=args.catalog, render_workers=args.workers)
    serve(config)
    return 0


def _add_styles_parser(sub) -> None:
    """`citywalk styles list|show|new|sheet|grid`."""
    st = sub.add_parser("styles", help="list, show, create or compare city styles")
    st.add_argument("action", choices=["list", "show", "new", "sheet", "grid"],
                    help="grid: every style × main/side street × noon/night, with its crowd")
    st.add_argument("name", nargs="?", help="a style (show), a new style's name (new), a comma list (sheet, grid)")
    st.add_argument("--time", help="time of day for the sheet (default golden_hour)")
    st.add_argument("--cell", help="cell size WIDTHxHEIGHT (default 480x270; grid 320x180)")
    st.add_argument("-o", "--output", help="sheet .png (default styles.png)")
    st.set_defaults(func=cmd_styles)


def make_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="citywalk", description="Walking videos through city streets.")
    p.add_argument("--version", action="version", version=f"citywalk {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("render", help="render a Shot to an MP4")
    _add_shot_flags(r)
    r.add_argument("-o", "--output", help="output .mp4 (default: the Shot's output.path)")
    r.add_argument("--restyle", help='restyle the rendered frames photographically: "photo of a Tokyo alley at dusk"')
    _add_farm_flag(r)
    r.set_defaults(func=cmd_render)
    s = sub.add_parser("still", help="render one frame of a Shot to a PNG")
    _add_shot_flags(s)
    s.add_argument("--at", type=float, default=0.0, help="time into the clip, seconds")
    s.add_argument("-o", "--output", help="output .png (default still.png)")
    s.set_defaults(func=cmd_still)
    ls = sub.add_parser("look-sheet", help="a grid of times × weathers from one viewpoint (PNG)")
    _add_shot_flags(ls)
    ls.add_argument("--times", help="comma list, default dawn,noon,golden_hour,dusk,night")
    ls.add_argument("--weathers", help="comma list, default clear,overcast,fog,hard_rain,heavy_snow,thunderstorm")
    ls.add_argument("--cell", help="cell size WIDTHxHEIGHT (default 320x180)")
    ls.add_argument("--at", type=float, default=2.0, help="time into the walk for the viewpoint, seconds")
    ls.add_argument("-o", "--output", help="output .png (default look_sheet.png)")
    ls.set_defaults(func=cmd_look_sheet)
    h = sub.add_parser("shot", help="print the Shot a prompt and flags describe (YAML)")
    _add_shot_flags(h)
    h.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    h.set_defaults(func=cmd_shot)
    _add_styles_parser(sub)
    cp = sub.add_parser("capture", help="phone/drone video or photos → a splat scene others can walk")
    cp_sub = cp.add_subparsers(dest="capture_command", required=True, parser_class=_Parser)
    sb = cp_sub.add_parser("submit", help="store a capture (MP4/MOV or a folder of images) in the catalog")
    sb.add_argument("source")
    sb.add_argument("--name")
    sb.add_argument("--place")
    sb.add_argument("--lat", type=float)
    sb.add_argument("--lon", type=float)
    sb.add_argument("--device")
    sb.add_argument("--contributor")
    sb.add_argument("--licence", default="CC-BY-4.0")
    sb.add_argument("--consent", action="store_true", help="the people and owners shown agreed")
    pr = cp_sub.add_parser("process", help="frames + QA → poses (pycolmap) → trained splats → scene package")
    pr.add_argument("name")
    pr.add_argument("--lens", default="SIMPLE_RADIAL", choices=["SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL",
                                                                "RADIAL", "OPENCV"],
                    help="COLMAP camera model: the radial ones estimate lens distortion (default SIMPLE_RADIAL)")
    pr.add_argument("--poses", help="train on cameras the capture already has, skipping SfM: colmap:MODEL_FOLDER "
                                    "or nerfstudio:transforms.json (the capture must be their folder of images)")
    _add_farm_flag(pr)
    ev = cp_sub.add_parser("eval", help="run the whole chain on a synthetic walk with known cameras")
    ev.add_argument("--frames", type=int, default=100)
    ev.add_argument("--size", default="640x360")
    ev.add_argument("--out", help="folder for the walk, the work and figures.json (default capture_eval)")
    for q in (pr, ev):
        q.add_argument("--iterations", type=int, default=2500)
        q.add_argument("--budget-s", type=float, default=1200.0, help="training time budget, seconds")
        q.add_argument("--train-side", type=int, default=None, help="train on frames downscaled to this side (px)")
    for q in (sb, pr):
        q.add_argument("--catalog", help="catalog folder (default $CITYWALK_CATALOG or ~/.citywalk/captures)")
    cp.set_defaults(func=cmd_capture)
    sc = sub.add_parser("scenes", help="list, show or remove captured scenes")
    sc.add_argument("action", choices=["list", "show", "remove"])
    sc.add_argument("name", nargs="?")
    sc.add_argument("--status", help="only entries with this status (submitted, processed, failed)")
    sc.add_argument("--catalog", help="catalog folder (default $CITYWALK_CATALOG or ~/.citywalk/captures)")
    sc.set_defaults(func=cmd_scenes)
    lk = sub.add_parser("likeness", help="capture yourself from a clip or photo")
    lk_sub = lk.add_subparsers(dest="likeness_command", required=True, parser_class=_Parser)
    cap = lk_sub.add_parser("capture", help="video or photo of a person → .actor package")
    cap.add_argument("source")
    cap.add_argument("--height-m", type=float, required=True, help="the person's height in metres")
    cap.add_argument("--method", default="auto", choices=["auto", "mediapipe", "chroma", "background"])
    cap.add_argument("-o", "--output", required=True, help="output .actor file")
    cap.set_defaults(func=cmd_likeness)
    _add_generate_parsers(sub)
    _add_footage_parsers(sub)
    _add_serve_parser(sub)
    return p


class _StderrWarnings(logging.Handler):
    """The library's warnings (logger 'citywalk', e.g. what a scene source skipped) as
    'citywalk: warning: …' lines on the stderr of the moment."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"citywalk: warning: {record.getMessage()}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    log = logging.getLogger("citywalk")
    if not any(isinstance(h, _StderrWarnings) for h in log.handlers):
        log.addHandler(_StderrWarnings(logging.WARNING))
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return int(args.func(args) or 0)
    except CitywalkError as exc:
        print(f"citywalk: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("citywalk: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
