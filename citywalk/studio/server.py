"""`citywalk serve`: check the configuration, then run the app under uvicorn."""

from __future__ import annotations

from ..errors import MissingExtra
from .config import StudioConfig, is_loopback


def _imports():
    try:
        import fastapi  # noqa: F401
        import multipart  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise MissingExtra(exc.name or "fastapi", "studio", "citywalk serve") from None
    return uvicorn


def serve(config: StudioConfig) -> None:
    """Serve until interrupted; refuses a non-loopback address without a token."""
    config.check_can_start()
    uvicorn = _imports()
    from .app import create_app

    app = create_app(config)
    where = f"[{config.host}]" if ":" in config.host else config.host
    print(f"citywalk Studio on http://{where}:{config.port}/  (data: {config.data_dir}; "
          f"{'token required' if config.needs_token() else 'no token'}"
          f"{'' if is_loopback(config.host) else '; reachable from the network'})", flush=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", access_log=False,
                server_header=False, timeout_graceful_shutdown=5)
