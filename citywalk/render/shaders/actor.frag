#version 330
// The actor card: premultiplied linear albedo × (sun × visibility on a rounded body + sky and
// ground ambient + lamps) / π → HDR radiance (kcd/m²), premultiplied for ONE, ONE_MINUS_SRC_ALPHA.
// u_pass 0: the solid core (alpha ≥ 0.5) that also writes depth; 1: the soft edge, no depth.
#define PI 3.14159265
in vec2 v_uv;
in float v_side;
uniform sampler2D u_tex;       // premultiplied linear albedo + alpha
uniform float u_pass;
uniform vec3 u_sun_dir;        // toward the sun
uniform vec3 u_sun_E;          // klux reaching the actor (already × sun visibility)
uniform vec3 u_amb_E;          // klux: sky + ground bounce on a vertical surface
uniform vec3 u_lamp_E;         // klux: street lamps at the actor
uniform vec3 u_to_cam;         // horizontal unit vector from the card toward the camera
uniform vec3 u_right;          // horizontal unit vector along the card's +x
uniform float u_body_radius_m; // half-width of the rounded body used for shading
out vec4 f_color;

void main() {
    vec4 t = texture(u_tex, v_uv);
    float a = t.a;
    if (u_pass < 0.5) {
        if (a < 0.5) discard;
    } else {
        if (a >= 0.5 || a < 0.004) discard;
    }
    vec3 albedo = min(t.rgb / max(a, 1e-4), vec3(0.9));
    // a vertical cylinder across the card: the normal turns from the camera toward the sides
    float s = clamp(v_side / u_body_radius_m, -1.0, 1.0);
    vec3 n = normalize(sqrt(1.0 - s * s) * u_to_cam + s * u_right);
    float wrap = 0.3;
    float lambert = max((dot(n, u_sun_dir) + wrap) / (1.0 + wrap), 0.0);
    float top = 0.2 * max(u_sun_dir.z, 0.0);  // head and shoulders face up
    vec3 E = u_sun_E * (lambert + top) + u_amb_E + u_lamp_E;
    f_color = vec4(albedo * E / PI * a, a);
}
