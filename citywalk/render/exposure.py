"""Camera exposure: meter the HDR frame, adapt partially (dusk stays darker than noon) and
smoothly over shot time (no flicker), or take the Lighting's fixed exposure.

The state carried from frame to frame is one small value, `ExposureState`: a renderer that
starts in the middle of a shot (a farm worker rendering frames 100..199) sets the state the
previous frame left, and its frames come out as if the shot had been rendered in one go.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .color import LUMA
from .frame import FrameContext, TextureUnit
from .gl import Fullscreen

METER_SIZE_PX = (64, 36)
EXPOSURE_KEY = 0.18        # mid-grey the metered scene maps to (before partial adaptation)
ADAPTATION = 0.75          # 1 = full adaptation; less keeps dusk and night darker than noon
REFERENCE_LUMINANCE = 2.0  # kcd/m²: a typical daylit street, the partial-adaptation anchor
ADAPTATION_TIME_S = 0.7    # camera auto-exposure time constant
HIGHLIGHT_EXPOSED = 1.4    # the metered 95th-percentile luminance is kept at or below this
MIN_METERED_KCD = 0.0015   # a street darker than 1.5 cd/m² is exposed as if it were that bright: a
                           # camera at night keeps a dark alley dark instead of boosting it ~100x
                           # until the few lit windows burn out into bloom


@dataclass(frozen=True)
class ExposureState:
    """Where auto exposure stands after a frame: `exposure` (multiplier on kcd/m², before the
    shot's EV offset) and the shot time `time_s` of that frame. None: nothing metered yet, the
    next frame takes its metered exposure at once."""

    exposure: float | None = None
    time_s: float | None = None


def adapt(state: ExposureState, mean_kcd: float, p95_kcd: float, time_s: float) -> ExposureState:
    """The state after metering a frame at `time_s` with log-average `mean_kcd` and 95th
    percentile `p95_kcd` luminance: move toward the target exposure with time constant
    ADAPTATION_TIME_S; jump to it on the first frame or when time does not advance."""
    lum = max(mean_kcd, MIN_METERED_KCD)
    target = EXPOSURE_KEY / (lum**ADAPTATION * REFERENCE_LUMINANCE ** (1 - ADAPTATION))
    target = min(target, HIGHLIGHT_EXPOSED / max(p95_kcd, 1e-7))  # keep sunlit streets from burning out
    if state.exposure is None or state.time_s is None or time_s <= state.time_s:
        return ExposureState(target, time_s)
    k = 1.0 - np.exp(-(time_s - state.time_s) / ADAPTATION_TIME_S)
    log_e = np.log(state.exposure)
    return ExposureState(float(np.exp(log_e + k * (np.log(target) - log_e))), time_s)


class Meter:
    """Luminance statistics of an HDR texture from a METER_SIZE_PX downsample."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.program = Fullscreen(ctx, "meter.frag")
        self.fbo = ctx.framebuffer(ctx.renderbuffer(METER_SIZE_PX, 4, dtype="f4"))

    def measure(self, hdr_tex) -> tuple[float, float]:
        """Log-average and 95th-percentile luminance (kcd/m²) of `hdr_tex`."""
        self.program.draw(self.fbo, {"u_hdr": (TextureUnit.HDR, hdr_tex)})
        rgb = np.frombuffer(self.fbo.read(components=3, dtype="f4"), np.float32).reshape(-1, 3)
        lum = np.maximum(rgb @ LUMA.astype(np.float32), 0.0)
        return float(np.exp(np.mean(np.log(lum + 1e-6)))), float(np.percentile(lum, 95))

    def release(self) -> None:
        self.program.release()
        self.fbo.release()


class CameraExposure:
    """The exposure of each frame: with `auto`, metered and adapted (`state` carries over from
    frame to frame); otherwise the Lighting's own. Either way times 2**`ev_offset`."""

    def __init__(self, ctx, auto: bool = True, ev_offset: float = 0.0):
        self.auto, self.ev_offset = bool(auto), float(ev_offset)
        self.state = ExposureState()
        self.meter = Meter(ctx)

    def for_frame(self, fc: FrameContext) -> float:
        """Exposure for the frame whose HDR image is in fc.targets.hdr_tex (auto: updates `state`)."""
        if not self.auto:
            return float(fc.light.lighting.exposure) * 2.0 ** self.ev_offset
        mean, p95 = self.meter.measure(fc.targets.hdr_tex)
        self.state = adapt(self.state, mean, p95, fc.time_s)
        return self.state.exposure * 2.0 ** self.ev_offset
