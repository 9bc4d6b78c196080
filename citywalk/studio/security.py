"""Request guards, as one ASGI middleware in front of the app:

- body size: Content-Length is checked before reading, and bodies are counted as they arrive
  (uploads may be as large as their kind's limit, everything else 2 MiB) → 413;
- Host: only loopback names, the bound address and `allowed_hosts` (no DNS rebinding) → 421;
- Origin: a state-changing request from another site's page is refused (CORS is closed) → 403;
- token: when the Studio has tokens, every request but the page shell and the log-in needs one,
  as `Authorization: Bearer …` or the log-in cookie → 401; the token's plan goes to the request;
- security headers on every response (no sniffing, no framing, a same-origin content policy).
"""

from __future__ import annotations

import hmac
import json

from .config import StudioConfig, is_loopback

COOKIE = "citywalk_token"
DEFAULT_BODY_BYTES = 2 << 20
FORM_OVERHEAD_BYTES = 1 << 20
PUBLIC_PATHS = ("/", "/index.html", "/favicon.ico", "/api/v1/session")
PUBLIC_PREFIXES = ("/static/",)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; "
       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY"), (b"content-security-policy", CSP.encode()),
           (b"cross-origin-resource-policy", b"same-origin")]


class _TooLarge(Exception):
    pass


def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return v.decode("latin-1")
    return None


def _cookie(scope, name: str) -> str | None:
    raw = _header(scope, b"cookie") or ""
    for part in raw.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1:].split("]")[0].lower()
    return host_header.rsplit(":", 1)[0].lower() if host_header.count(":") == 1 else host_header.lower()


class Guard:
    """The middleware (see the module docstring)."""

    def __init__(self, app, config: StudioConfig):
        self.app, self.config = app, config
        self.tokens = config.all_tokens()
        up = config.uploads
        self.upload_limits = {"/api/v1/actors": up.likeness_bytes, "/api/v1/captures": up.capture_bytes,
                              "/api/v1/worlds": up.world_bytes}
        bound = config.host.strip("[]").lower()
        self.any_host = bound in ("0.0.0.0", "::", "") and not config.allowed_hosts
        self.hosts = {"127.0.0.1", "localhost", "::1", bound, *[h.lower() for h in config.allowed_hosts]}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        send = self._with_headers(send)
        refusal = self._refusal(scope)
        if refusal is not None:
            return await _reply(send, *refusal)
        limit = self._body_limit(scope)
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await _reply(send, 413, f"request body over the {limit / 2**20:.0f} MiB limit")
        return await self._limited(scope, receive, send, limit)

    def _refusal(self, scope) -> tuple[int, str, dict] | None:
        host = _header(scope, b"host") or ""
        if not self.any_host and _hostname(host) not in self.hosts and not self._loopback_name(host):
            return 421, f"Host '{host[:80]}' is not served here", {}
        method, path = scope["method"], scope["path"]
        origin = _header(scope, b"origin")
        if method not in SAFE_METHODS and origin is not None:
            scheme = scope.get("scheme", "http")
            if origin != f"{scheme}://{host}" and origin not in self.config.cors_origins:
                return 403, f"requests from the page at {origin[:80]} are not accepted", {}
        plan = self.config.default_plan
        if self.tokens and not (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)):
            plan = self._token_plan(scope)
            if plan is None:
                return 401, "this Studio needs a token: 'Authorization: Bearer TOKEN' or log in on the page", \
                    {"www-authenticate": "Bearer"}
        scope.setdefault("state", {})["plan"] = plan
        return None

    @staticmethod
    def _loopback_name(host: str) -> bool:
        return is_loopback(_hostname(host))

    def _token_plan(self, scope) -> str | None:
        auth = _header(scope, b"authorization") or ""
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else (_cookie(scope, COOKIE) or "")
        for token, plan in self.tokens.items():
            if given and hmac.compare_digest(given.encode(), token.encode()):
                return plan
        return None

    def _body_limit(self, scope) -> int:
        if scope["method"] == "POST" and scope["path"] in self.upload_limits:
            return self.upload_limits[scope["path"]] + FORM_OVERHEAD_BYTES
        return DEFAULT_BODY_BYTES

    async def _limited(self, scope, receive, send, limit: int):
        state = {"seen": 0, "over": False, "started": False}

        async def counted():
            msg = await receive()
            if msg["type"] == "http.request":
                state["seen"] += len(msg.get("body", b""))
                if state["seen"] > limit:
                    state["over"] = True
                    raise _TooLarge()
            return msg

        async def guarded_send(msg):
            if state["over"]:
                return
            if msg["type"] == "http.response.start":
                state["started"] = True
            await send(msg)

        try:
            await self.app(scope, counted, guarded_send)
        except _TooLarge:
            pass
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["started"]:
            await _reply(send, 413, f"request body over the {limit / 2**20:.0f} MiB limit")

    @staticmethod
    def _with_headers(send):
        async def wrapped(msg):
            if msg["type"] == "http.response.start":
                have = {k.lower() for k, _ in msg.get("headers", [])}
                msg = {**msg, "headers": [*msg.get("headers", []), *[h for h in HEADERS if h[0] not in have]]}
            await send(msg)
        return wrapped


async def _reply(send, status: int, message: str, headers: dict | None = None) -> None:
    body = json.dumps({"detail": message}).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    hdrs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})
