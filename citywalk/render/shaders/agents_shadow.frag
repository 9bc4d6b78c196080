#version 330
// Darkens the ground by the sun's share of its light where the sun reaches it (shadow map).
in vec3 v_pos;
uniform sampler2DShadow u_shadow;
uniform mat4 u_shadow_mat;
uniform float u_use_shadow;
uniform float u_strength;   // share of the ground's light that comes from the sun
out vec4 f_color;
void main() {
    float vis = 1.0;
    if (u_use_shadow > 0.5) {
        vec4 s = u_shadow_mat * vec4(v_pos, 1.0);
        vec3 c = s.xyz / s.w * 0.5 + 0.5;
        if (c.x >= 0.0 && c.x <= 1.0 && c.y >= 0.0 && c.y <= 1.0 && c.z <= 1.0)
            vis = texture(u_shadow, vec3(c.xy, c.z - 0.0008));
    }
    f_color = vec4(0.0, 0.0, 0.0, u_strength * vis);
}
