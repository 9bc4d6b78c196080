#version 330
// HDR radiance + depth → fog and aerial perspective → exposure → ACES filmic → sRGB, dithered.
in vec2 v_ndc;
uniform sampler2D u_hdr;
uniform sampler2D u_depth;
uniform float u_near;
uniform float u_far;
uniform vec2 u_tan_half;      // tan of half the fov in x and y
uniform float u_exposure;
uniform float u_extinction;   // 1/m, Koschmieder: 3.912 / visibility
uniform vec3 u_fog_color;     // kcd/m² in-scattered radiance at infinite depth
uniform float u_frame;
uniform float u_has_splats;
uniform sampler2D u_bloom;     // blurred exposed glow, quarter resolution
uniform float u_bloom_strength;
uniform sampler2D u_splat;     // premultiplied display-linear splat colour + alpha
uniform sampler2D u_splat_z;   // alpha-weighted camera z
out vec4 f_color;

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

void main() {
    vec2 uv = v_ndc * 0.5 + 0.5;
    vec3 c = texture(u_hdr, uv).rgb;
    float z = texture(u_depth, uv).r;
    if (z < 1.0) {
        float zn = z * 2.0 - 1.0;
        float view_z = 2.0 * u_near * u_far / (u_far + u_near - zn * (u_far - u_near));
        float dist = view_z * length(vec3(v_ndc * u_tan_half, 1.0));
        float t = exp(-u_extinction * dist);
        c = c * t + u_fog_color * (1.0 - t);
    } else {
        c = mix(c, u_fog_color, 1.0 - exp(-u_extinction * 1500.0));  // the sky fades into fog too
    }
    c = aces(c * u_exposure + texture(u_bloom, uv).rgb * u_bloom_strength);
    if (u_has_splats > 0.5) {
        // splats carry baked, display-referred light: composite after tone mapping, fogged by depth
        vec4 s = texture(u_splat, uv);
        if (s.a > 1e-4) {
            float zs = texture(u_splat_z, uv).r / s.a;
            float ts = exp(-u_extinction * zs * length(vec3(v_ndc * u_tan_half, 1.0)));
            vec3 fog = aces(u_fog_color * u_exposure);
            c = s.rgb * ts + fog * (1.0 - ts) * s.a + (1.0 - s.a) * c;
        }
    }
    c = to_srgb(c);
    c += (hash12(gl_FragCoord.xy + u_frame * 7.31) - 0.5) / 255.0;
    f_color = vec4(c, 1.0);
}
