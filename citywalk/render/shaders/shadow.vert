#version 330
in vec3 in_pos;
in vec3 in_nrm;
in vec2 in_uv;
in vec2 in_mat;  // (texture layer, material kind): foliage is alpha-tested in shadow.frag
uniform mat4 u_light_mat;
#include "thin_tube.glsl"
out vec2 v_uv;
flat out vec2 v_mat;
invariant gl_Position;
void main() {
    v_uv = in_uv;
    v_mat = in_mat;
    gl_Position = u_light_mat * vec4(widened(in_pos, in_nrm, in_uv.x, in_mat.y), 1.0);
}
