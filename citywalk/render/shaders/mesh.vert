#version 330
// World-space mesh vertex: position, normal, uv, linear colour, (layer, kind, emissive, variation), roughness.
in vec3 in_pos;
in vec3 in_nrm;
in vec2 in_uv;
in vec3 in_col;
in vec4 in_mat;
in float in_rough;
uniform mat4 u_view_proj;
#define THIN 6  // scene.THIN
uniform vec3 u_cam_pos;
uniform float u_thin_radius_per_m;  // least radius of a THIN tube per metre from the camera (0: as modelled)
// A THIN tube's vertex (radius in uv.x, normal radial) moved out from the tube's axis so the tube
// stays about a pixel wide far away. mesh.vert and shadow.vert carry the same code: the depth
// prepass must give the mesh pass the very same positions.
vec3 widened(vec3 pos, vec3 nrm, float radius_m, float kind) {
    if (u_thin_radius_per_m <= 0.0 || int(kind + 0.5) != THIN) return pos;
    vec3 axis = pos - radius_m * nrm;
    return axis + max(radius_m, u_thin_radius_per_m * distance(axis, u_cam_pos)) * nrm;
}
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
