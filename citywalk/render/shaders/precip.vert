#version 330
// Falling rain (lines: 2 vertices per drop, head and tail of its motion streak) or snow (points),
// placed by a hash of the particle index, moving with their velocity and wrapped into a box that
// follows the camera, so a particle stays put in the world while the camera walks through it.
uniform mat4 u_view_proj;
uniform vec3 u_box_centre;
uniform vec3 u_box_half;
uniform vec3 u_velocity;      // m/s, fall + wind
uniform float u_time;
uniform float u_shutter_s;    // streak length = velocity × shutter
uniform float u_snow;         // 1 for snow (points with wobble)
uniform float u_focal_px;
uniform float u_flake_m;
uniform sampler3D u_lamp_total;
uniform vec3 u_lamp_origin;
uniform vec3 u_lamp_size;
uniform float u_use_lamps;
uniform float u_lights_on;
out vec3 v_light;
out float v_fade;

vec3 hash31(float n) {
    vec3 p = fract(vec3(n) * vec3(0.1031, 0.1030, 0.0973));
    p += dot(p, p.yzx + 33.33);
    return fract((p.xxy + p.yzz) * p.zyx);
}

void main() {
    int id = u_snow > 0.5 ? gl_VertexID : gl_VertexID / 2;
    float tail = u_snow > 0.5 ? 0.0 : float(gl_VertexID % 2);
    vec3 h = hash31(float(id) + 0.5);
    vec3 p = h * 2.0 * u_box_half + u_velocity * u_time;
    if (u_snow > 0.5) {
        float ph = h.x * 40.0;
        p.xy += 0.35 * vec2(sin(u_time * 1.3 + ph), cos(u_time * 1.1 + ph * 1.7));
    }
    vec3 rel = mod(p - u_box_centre + u_box_half, 2.0 * u_box_half) - u_box_half;
    vec3 world = u_box_centre + rel - tail * u_velocity * u_shutter_s;
    gl_Position = u_view_proj * vec4(world, 1.0);
    v_fade = 1.0 - smoothstep(0.7, 1.0, length(rel / u_box_half));
    v_light = vec3(0.0);
    if (u_use_lamps > 0.5) {
        vec3 vc = (world - u_lamp_origin) / u_lamp_size;
        if (all(greaterThanEqual(vc, vec3(0.0))) && all(lessThanEqual(vc, vec3(1.0))))
            v_light = texture(u_lamp_total, vc).rgb * u_lights_on;
    }
    // a drop far away covers only part of its pixel: fade with distance so far rain is a veil, not noise
    v_fade *= clamp(5.0 / max(gl_Position.w, 0.1), 0.08, 1.0);
    gl_PointSize = clamp(u_focal_px * u_flake_m / max(gl_Position.w, 0.1), 1.5, 10.0);
}
