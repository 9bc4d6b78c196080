#version 330
// Sky behind geometry: the lat-long sky map, the sun's disc, the moon and a few stars.
#define PI 3.14159265
in vec2 v_ndc;
uniform mat4 u_inv_view_proj;
uniform sampler2D u_sky;
uniform vec3 u_sun_dir;
uniform vec3 u_sun_E;
uniform vec3 u_moon_dir;
uniform float u_moon_phase;
uniform float u_star_scale;
out vec4 f_color;

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
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
    if (u_moon_dir.z > 0.0) c += vec3(0.8, 0.85, 0.9) * 0.004 * u_moon_phase * smoothstep(0.99996, 0.99998, cm);
    if (u_star_scale > 0.0 && d.z > 0.05) {
        vec2 g = floor(vec2(az, el) * 420.0);
        float h = hash12(g);
        if (h > 0.997) c += vec3(1.0) * u_star_scale * (h - 0.997) * 300.0 * smoothstep(0.05, 0.3, d.z);
    }
    f_color = vec4(c, 1.0);
}
