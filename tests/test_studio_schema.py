"""Property test of the Studio's published OpenAPI document with schemathesis: for generated
requests to every operation, no response is a 5xx and every response conforms to the document
(status code, content type, headers, body schema).

Bounded: a few examples per operation, and the app runs with a tiny plan (1 s, 64x36) so any
Shot that passes validation previews cheaply. The queue's workers are not started (the app's
lifespan is held back), so accepted jobs stay queued: submitting, listing, cancelling and deleting
are exercised without rendering anything."""

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from citywalk.studio import create_app  # noqa: E402
from citywalk.studio.config import Plan, StudioConfig, UploadLimits  # noqa: E402

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = 8


def _app(tmp):
    tiny = Plan(max_duration_s=1, max_width_px=64, max_height_px=36, max_fps=6, max_queued_jobs=4)
    cfg = StudioConfig(data_dir=tmp / "data", catalog_dir=tmp / "catalog", plans={"free": tiny},
                       uploads=UploadLimits(likeness_bytes=64 * 1024, capture_bytes=64 * 1024, world_bytes=64 * 1024),
                       allowed_hosts=["testserver"], preview_timeout_s=60)
    return create_app(cfg)


class NoLifespan:
    """The app without its lifespan: the scheduler does not start, so no job is ever rendered."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                kind = msg["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        await self.app(scope, receive, send)


def _schema():
    import tempfile
    from pathlib import Path

    app = _app(Path(tempfile.mkdtemp(prefix="citywalk-schemathesis-")))
    _APPS.append(app)
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", NoLifespan(app))


_APPS: list = []
schema = _schema()


@pytest.fixture(scope="module", autouse=True)
def _close_preview():
    yield
    for app in _APPS:
        app.state.studio.preview.close()
        import shutil

        shutil.rmtree(app.state.studio.data.root.parent, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_response_conforms_and_none_is_a_server_error(case):
    case.call_and_validate(checks=CHECKS)
