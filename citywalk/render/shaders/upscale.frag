#version 330
// One axis of a separable Catmull-Rom upscale of the display image (sRGB in a float target): the
// horizontal pass widens the frame to the output width, the vertical one to the output height
// and then adds the film grain and dither at the output's own pixels, as post.frag does for a
// frame drawn at full size (same hash, same per-frame offset; the grain's size in sRGB terms).
uniform sampler2D u_src;
uniform float u_vertical;      // 0: along x; 1: along y, then grain and dither
uniform float u_out_len;       // output pixels along the axis
uniform float u_grain;
uniform vec2 u_grain_offset;
uniform float u_frame;
out vec4 f_color;

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

void main() {
    int axis = u_vertical > 0.5 ? 1 : 0;
    ivec2 px = ivec2(gl_FragCoord.xy);
    ivec2 last = textureSize(u_src, 0) - 1;
    float n_src = float(last[axis] + 1);
    float x = gl_FragCoord[axis] * (n_src / u_out_len) - 0.5;   // source coordinate of this centre
    float i = floor(x), t = x - i;
    float t2 = t * t, t3 = t2 * t;
    vec4 w = vec4(-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0,
                  -1.5 * t3 + 2.0 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2);
    ivec2 step_px = axis == 1 ? ivec2(0, 1) : ivec2(1, 0);
    ivec2 base = px;
    base[axis] = int(i) - 1;
    vec3 c = vec3(0.0);
    for (int k = 0; k < 4; k++) {
        c += w[k] * texelFetch(u_src, clamp(base + k * step_px, ivec2(0), last), 0).rgb;
    }
    c = max(c, 0.0);
    if (u_vertical > 0.5) {
        c = min(c, 1.0);
        if (u_grain > 0.0) {
            // post.frag's grain, applied in sRGB: a small relative change k of linear light is
            // about k / 2.4 of the encoded value; mid-tones from the encoded luma squared
            vec2 g_uv = gl_FragCoord.xy + u_grain_offset;
            float g = hash12(g_uv) + hash12(g_uv.yx * 1.37 + 17.0) - 1.0;
            float s = dot(c, vec3(0.2126, 0.7152, 0.0722));
            float luma = s * s;
            c *= 1.0 + g * u_grain * (0.35 + 4.0 * luma * (1.0 - luma)) * (1.0 / 2.4);
        }
        c += (hash12(gl_FragCoord.xy + u_frame * 7.31) - 0.5) / 255.0;
    }
    f_color = vec4(c, 1.0);
}
