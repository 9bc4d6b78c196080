#version 330
in vec3 in_pos;
in vec2 in_uv;
in vec2 in_mat;  // (texture layer, material kind): foliage is alpha-tested in shadow.frag
uniform mat4 u_light_mat;
out vec2 v_uv;
flat out vec2 v_mat;
invariant gl_Position;
void main() {
    v_uv = in_uv;
    v_mat = in_mat;
    gl_Position = u_light_mat * vec4(in_pos, 1.0);
}
