#version 330
// World-space mesh vertex: position, normal, uv, linear colour, (layer, kind, emissive, variation), roughness.
in vec3 in_pos;
in vec3 in_nrm;
in vec2 in_uv;
in vec3 in_col;
in vec4 in_mat;
in float in_rough;
uniform mat4 u_view_proj;
#include "thin_tube.glsl"
invariant gl_Position;
out vec3 v_pos;
out vec3 v_nrm;
out vec2 v_uv;
out vec3 v_col;
flat out vec4 v_mat;
out float v_rough;
void main() {
    v_pos = widened(in_pos, in_nrm, in_uv.x, in_mat.y);
    v_nrm = in_nrm;
    v_uv = in_uv;
    v_col = in_col;
    v_mat = in_mat;
    v_rough = in_rough;
    gl_Position = u_view_proj * vec4(v_pos, 1.0);
}
