#version 330
// Instanced agents (pedestrian limbs, cars): a shared unit mesh placed by per-instance axes and
// origin, coloured per instance, shaded by mesh.frag exactly like the scene's own meshes.
in vec3 in_pos;
in vec3 in_nrm;
in vec3 in_col;
in float in_tint;      // 1: the instance colour multiplies this vertex's colour; 0: vertex colour alone
in float in_rough;
in float in_kind;
in float in_emit;
in vec3 i_x;
in vec3 i_y;
in vec3 i_z;
in vec3 i_o;
in vec3 i_col;
in float i_taper;      // cross-section scale at the top (z = 1) of a limb
in float i_ground;
uniform mat4 u_view_proj;
out vec3 v_pos;
out vec3 v_nrm;
out vec2 v_uv;
out vec3 v_col;
flat out vec4 v_mat;
out float v_rough;
void main() {
    float k = mix(1.0, i_taper, clamp(in_pos.z, 0.0, 1.0));
    vec3 p = i_o + i_x * (in_pos.x * k) + i_y * (in_pos.y * k) + i_z * in_pos.z;
    // the axes are orthogonal: the inverse transpose scales each by 1 / length²
    vec3 n = i_x * (in_nrm.x / max(dot(i_x, i_x), 1e-8)) + i_y * (in_nrm.y / max(dot(i_y, i_y), 1e-8))
           + i_z * (in_nrm.z / max(dot(i_z, i_z), 1e-8));
    v_pos = p;
    v_nrm = normalize(n);
    v_uv = vec2(0.5);
    v_col = mix(in_col, in_col * i_col, in_tint);
    v_mat = vec4(0.0, in_kind, in_emit, 0.0);
    v_rough = in_rough;
    gl_Position = u_view_proj * vec4(p, 1.0);
}
