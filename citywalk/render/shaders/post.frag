#version 330
// HDR radiance + depth → motion blur → fog and aerial perspective → exposure → filmic tone curve
// → vignette, grain → sRGB, dithered.
in vec2 v_ndc;
uniform sampler2D u_hdr;
uniform sampler2D u_depth;
uniform float u_near;
uniform float u_far;
uniform vec2 u_tan_half;      // tan of half the fov in x and y
uniform float u_exposure;
uniform float u_extinction;   // 1/m at the fog base, Koschmieder: 3.912 / visibility
uniform float u_haze;         // 1/m, clear-air haze (height independent)
uniform float u_fog_falloff;  // 1/m: fog thins as exp(-falloff · height above its base)
uniform float u_fog_base;     // m
uniform vec3 u_fog_color;     // kcd/m² in-scattered radiance at infinite depth
uniform float u_frame;
uniform float u_linear;        // 1: write exposed linear radiance (tests, analysis), no tone curve
uniform float u_has_splats;
uniform mat4 u_view_proj;      // for screen-space reflections on wet ground
uniform mat4 u_inv_view_proj;
uniform vec3 u_cam_pos;
uniform sampler2D u_sky;
uniform float u_ssr;           // 1 when anything is wet
uniform sampler2D u_precip;    // rain (additive) and snow (premultiplied over) layer
uniform float u_has_precip;    // 1 when anything falls this frame (else the layer is clear)
uniform sampler2D u_bloom;     // blurred exposed glow, quarter resolution
uniform float u_bloom_strength;
uniform sampler2D u_splat;     // premultiplied display-linear splat colour + alpha
uniform sampler2D u_splat_z;   // alpha-weighted camera z
uniform mat4 u_prev_view_proj; // the previous frame's camera (motion blur)
uniform float u_shutter;       // share of the frame interval the shutter is open; 0: no blur
uniform float u_tone;          // 0 ACES filmic, 1 phone (flatter, lifted shadows)
uniform float u_vignette;      // 0..1 of the lens's cos⁴ fall-off
uniform float u_grain;         // grain amplitude (relative, display-linear)
uniform vec2 u_grain_offset;   // per-frame seeded offset of the grain pattern
uniform float u_dither;        // 1: dither to 8 bits here; 0: an upscale pass grains and dithers later
uniform float u_saturation;
out vec4 f_color;

const int BLUR_TAPS = 6;

vec3 aces(vec3 x) {
    return clamp((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0);
}

vec3 to_srgb(vec3 c) {
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

vec3 sky_lookup(vec3 d) {
    float az = atan(d.x, d.y);
    if (az < 0.0) az += 6.2831853;
    float el = asin(clamp(d.z, -1.0, 1.0));
    return texture(u_sky, vec2(az / 6.2831853, el / 3.14159265 + 0.5)).rgb;
}

// Mirror reflection of the scene in wet, up-facing ground: march the reflected ray through the
// depth buffer; where it leaves the screen or meets nothing, reflect the sky.
vec3 reflection(vec2 uv, float z, vec3 fallback) {
    vec4 w = u_inv_view_proj * vec4(v_ndc, z * 2.0 - 1.0, 1.0);
    vec3 p = w.xyz / w.w;
    vec3 r = reflect(normalize(p - u_cam_pos), vec3(0.0, 0.0, 1.0));
    float t = 0.3;
    for (int i = 0; i < 14; i++) {
        vec3 q = p + r * t;
        vec4 c = u_view_proj * vec4(q, 1.0);
        if (c.w <= 0.0) break;
        vec3 ndc = c.xyz / c.w;
        vec2 suv = ndc.xy * 0.5 + 0.5;
        if (any(lessThan(suv, vec2(0.0))) || any(greaterThan(suv, vec2(1.0)))) break;
        float scene_z = texture(u_depth, suv).r;
        if (scene_z < ndc.z * 0.5 + 0.5 && scene_z < 1.0) {
            return texture(u_hdr, suv).rgb;
        }
        t *= 1.45;
    }
    return sky_lookup(r);
}

// Phone camera curve: brighter mid-tones and lifted shadows (what a phone's tone mapping does),
// an exponential shoulder.
vec3 phone_curve(vec3 x) {
    return clamp(1.0 - exp(-2.2 * x), 0.0, 1.0);   // mid-grey 0.18 → 0.33 (ACES: 0.27), 0.02 → 0.04
}

// Screen-space velocity (uv per frame) of this pixel from depth and the two cameras: the world
// point under the pixel reprojected into the previous frame (sky: the far plane, rotation only).
vec2 velocity(vec2 uv, float z) {
    vec4 w = u_inv_view_proj * vec4(v_ndc, z * 2.0 - 1.0, 1.0);
    vec4 prev = u_prev_view_proj * vec4(w.xyz / w.w, 1.0);
    if (prev.w <= 0.0) return vec2(0.0);
    return uv - (prev.xy / prev.w * 0.5 + 0.5);
}

// HDR radiance averaged along the path the pixel swept while the shutter was open.
vec4 blurred_hdr(vec2 uv, float z) {
    vec4 hdr = texture(u_hdr, uv);
    if (u_shutter <= 0.0) return hdr;
    vec2 v = velocity(uv, z) * u_shutter;
    vec2 px = v * vec2(textureSize(u_hdr, 0));
    float len_px = length(px);
    if (len_px < 0.5) return hdr;
    if (len_px > 40.0) v *= 40.0 / len_px;
    vec3 sum = hdr.rgb;
    for (int i = 0; i < BLUR_TAPS; i++) {
        float t = (float(i) + 0.5) / float(BLUR_TAPS) - 0.5;
        sum += texture(u_hdr, clamp(uv - v * t, vec2(0.0), vec2(1.0))).rgb;
    }
    return vec4(sum / float(BLUR_TAPS + 1), hdr.a);
}

void main() {
    vec2 uv = v_ndc * 0.5 + 0.5;
    float z = texture(u_depth, uv).r;
    vec4 hdr = blurred_hdr(uv, z);
    vec3 c = hdr.rgb;
    if (u_ssr > 0.5 && hdr.a > 0.01 && z < 1.0) {
        c += reflection(uv, z, c) * hdr.a * 0.8;
    }
    if (u_has_precip > 0.5) {
        vec4 pr = texture(u_precip, uv);
        c = c * (1.0 - pr.a) + pr.rgb;
    }
    if (z < 1.0) {
        float zn = z * 2.0 - 1.0;
        float view_z = 2.0 * u_near * u_far / (u_far + u_near - zn * (u_far - u_near));
        float dist = view_z * length(vec3(v_ndc * u_tan_half, 1.0));
        // optical depth along the ray through fog that thins exponentially with height
        vec4 wp = u_inv_view_proj * vec4(v_ndc, z * 2.0 - 1.0, 1.0);
        float h0 = max(u_cam_pos.z - u_fog_base, 0.0), h1 = max(wp.z / wp.w - u_fog_base, 0.0);
        float k = u_fog_falloff;
        float dh = h1 - h0;
        float mean_density = (k * abs(dh) < 1e-3) ? exp(-k * h0) : (exp(-k * h0) - exp(-k * h1)) / (k * dh);
        float t = exp(-(u_extinction * mean_density + u_haze) * dist);
        c = c * t + u_fog_color * (1.0 - t);
    } else {
        c = mix(c, u_fog_color, 1.0 - exp(-(u_extinction + u_haze) * 1500.0));  // the sky fades into fog too
    }
    if (u_linear > 0.5) {
        f_color = vec4(c * u_exposure, 1.0);
        return;
    }
    c = c * u_exposure + texture(u_bloom, uv).rgb * u_bloom_strength;
    float luma = dot(c, vec3(0.2126, 0.7152, 0.0722));
    c = max(mix(vec3(luma), c, u_saturation), 0.0);
    c = u_tone > 0.5 ? phone_curve(c) : aces(c);
    if (u_has_splats > 0.5) {
        // splats carry baked, display-referred light: composite after tone mapping, fogged by depth
        vec4 s = texture(u_splat, uv);
        if (s.a > 1e-4) {
            float zs = texture(u_splat_z, uv).r / s.a;
            float ts = exp(-(u_extinction + u_haze) * zs * length(vec3(v_ndc * u_tan_half, 1.0)));
            vec3 fog = aces(u_fog_color * u_exposure);
            c = s.rgb * ts + fog * (1.0 - ts) * s.a + (1.0 - s.a) * c;
        }
    }
    if (u_vignette > 0.0) {
        float r2 = dot(v_ndc * u_tan_half, v_ndc * u_tan_half);   // tan² of the off-axis angle
        float cos4 = 1.0 / ((1.0 + r2) * (1.0 + r2));
        c *= mix(1.0, cos4, u_vignette);
    }
    if (u_grain > 0.0) {
        // two hashes summed: a grain of triangular distribution, strongest in the mid-tones
        vec2 g_uv = gl_FragCoord.xy + u_grain_offset;
        float g = hash12(g_uv) + hash12(g_uv.yx * 1.37 + 17.0) - 1.0;
        float mid = 4.0 * dot(c, vec3(0.2126, 0.7152, 0.0722)) * (1.0 - dot(c, vec3(0.2126, 0.7152, 0.0722)));
        c = max(c * (1.0 + g * u_grain * (0.35 + mid)), 0.0);
    }
    c = to_srgb(c);
    c += u_dither * (hash12(gl_FragCoord.xy + u_frame * 7.31) - 0.5) / 255.0;
    f_color = vec4(c, 1.0);
}
