#version 330
// Agents' sun shadows: the same instances flattened onto the ground along the sun direction.
in vec3 in_pos;
in vec3 i_x;
in vec3 i_y;
in vec3 i_z;
in vec3 i_o;
in float i_taper;
in float i_ground;
uniform mat4 u_view_proj;
uniform vec3 u_sun_dir;     // towards the sun, z > 0
out vec3 v_pos;
void main() {
    float k = mix(1.0, i_taper, clamp(in_pos.z, 0.0, 1.0));
    vec3 p = i_o + i_x * (in_pos.x * k) + i_y * (in_pos.y * k) + i_z * in_pos.z;
    float h = max(p.z - i_ground, 0.0);
    vec3 g = p - u_sun_dir * (h / u_sun_dir.z);
    g.z = i_ground + 0.012;
    v_pos = g;
    gl_Position = u_view_proj * vec4(g, 1.0);
}
