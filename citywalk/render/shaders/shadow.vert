#version 330
in vec3 in_pos;
in vec3 in_nrm;
in vec2 in_uv;
in vec2 in_mat;  // (texture layer, material kind): foliage is alpha-tested in shadow.frag
uniform mat4 u_light_mat;
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
out vec2 v_uv;
flat out vec2 v_mat;
invariant gl_Position;
void main() {
    v_uv = in_uv;
    v_mat = in_mat;
    gl_Position = u_light_mat * vec4(widened(in_pos, in_nrm, in_uv.x, in_mat.y), 1.0);
}
