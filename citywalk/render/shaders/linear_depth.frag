#version 330
// Window depth → camera z in metres (R32F), for hiding splats behind meshes; sky = far away.
in vec2 v_ndc;
uniform sampler2D u_depth;
uniform float u_near;
uniform float u_far;
out float f_z;
void main() {
    float z = texture(u_depth, v_ndc * 0.5 + 0.5).r;
    float zn = z * 2.0 - 1.0;
    f_z = z >= 1.0 ? 1e9 : 2.0 * u_near * u_far / (u_far + u_near - zn * (u_far - u_near));
}
