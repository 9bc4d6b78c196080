// Included by mesh.vert and shadow.vert (gl.shader_source): the depth prepass must give the mesh
// pass the very same positions, so both read this one text.
#define THIN 6  // scene.THIN
uniform vec3 u_cam_pos;
uniform float u_thin_radius_per_m;  // least radius of a THIN tube per metre from the camera (0: as modelled)
// A THIN tube's vertex (radius in uv.x, normal radial) moved out from the tube's axis so the tube
// stays about a pixel wide far away.
vec3 widened(vec3 pos, vec3 nrm, float radius_m, float kind) {
    if (u_thin_radius_per_m <= 0.0 || int(kind + 0.5) != THIN) return pos;
    vec3 axis = pos - radius_m * nrm;
    return axis + max(radius_m, u_thin_radius_per_m * distance(axis, u_cam_pos)) * nrm;
}
