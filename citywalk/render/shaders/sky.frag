#version 330
// Sky behind geometry: the lat-long sky map, the sun's disc, the moon and a few stars.
#define PI 3.14159265
in vec2 v_ndc;
uniform mat4 u_inv_view_proj;
uniform sampler2D u_sky;
uniform vec3 u_sun_dir;
uniform vec3 u_sun_E;
uniform vec3 u_moon_dir;
uniform float u_star_scale;
uniform float u_flash;        // lightning, klux of extra sky light
uniform float u_cloud_cover;
uniform vec3 u_cloud_light;   // radiance of a lit cloud
uniform vec2 u_wind;
uniform float u_time;
out vec4 f_color;

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

float value_noise(vec2 p) {
    vec2 i = floor(p), f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    return mix(mix(hash12(i), hash12(i + vec2(1, 0)), u.x), mix(hash12(i + vec2(0, 1)), hash12(i + vec2(1, 1)), u.x), u.y);
}

void main() {
    vec4 a = u_inv_view_proj * vec4(v_ndc, -1.0, 1.0);
    vec4 b = u_inv_view_proj * vec4(v_ndc, 1.0, 1.0);
    vec3 d = normalize(b.xyz / b.w - a.xyz / a.w);
    float az = atan(d.x, d.y);
    if (az < 0.0) az += 2.0 * PI;
    float el = asin(clamp(d.z, -1.0, 1.0));
    vec3 c = texture(u_sky, vec2(az / (2.0 * PI), el / PI + 0.5)).rgb;
    float cs = dot(d, u_sun_dir);
    // sun disc (0.27° radius) with a soft aureole; radiance ≈ E / solid angle, limited for display
    c += u_sun_E * (smoothstep(0.99998, 0.99999, cs) * 400.0 + pow(max(cs, 0.0), 600.0) * 0.05);
    float cm = dot(d, u_moon_dir);
    if (u_moon_dir.z > 0.0 && cm > 0.99997) {
        // the moon's disc (0.26° radius), lit on the side facing the sun: phase as a shape
        vec3 perp = d - u_moon_dir * cm;
        float q = clamp(length(perp) / 0.0045, 0.0, 1.0);
        vec3 n = normalize(perp / 0.0045 - u_moon_dir * sqrt(1.0 - q * q));
        float lit = smoothstep(-0.05, 0.05, dot(n, u_sun_dir));
        c += vec3(0.8, 0.85, 0.9) * 0.004 * (0.04 + lit) * (1.0 - smoothstep(0.9, 1.0, q));
    }
    if (u_star_scale > 0.0 && d.z > 0.05) {
        vec2 g = floor(vec2(az, el) * 420.0);
        float h = hash12(g);
        if (h > 0.997) c += vec3(1.0) * u_star_scale * (h - 0.997) * 300.0 * smoothstep(0.05, 0.3, d.z);
    }
    // a cloud deck at 2 km drifting with the wind; coverage follows the weather
    if (u_cloud_cover > 0.02 && d.z > 0.01) {
        vec2 q = d.xy / d.z * 2000.0 + u_wind * u_time * 8.0;
        float n = value_noise(q / 900.0) * 0.5 + value_noise(q / 380.0) * 0.3 + value_noise(q / 150.0) * 0.2;
        float cover = smoothstep(1.0 - u_cloud_cover, 1.0 - u_cloud_cover + 0.25, n) * smoothstep(0.01, 0.12, d.z);
        float edge = 1.0 - 0.35 * smoothstep(0.5, 1.0, n);   // thick cores are darker underneath
        c = mix(c, u_cloud_light * edge, cover * (1.0 - 0.6 * smoothstep(0.9, 1.0, u_cloud_cover)));
    }
    c *= 1.0 + u_flash * 0.2;
    f_color = vec4(c, 0.0);
}
