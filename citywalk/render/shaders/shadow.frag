#version 330
// Depth only (the depth pre-pass and the sun's shadow map): leaf cards (FOLIAGE) are cut out by
// their texture's alpha exactly as mesh.frag cuts them, so leaves cast leaf-shaped shadows.
#define FOLIAGE 5
uniform sampler2DArray u_tex;
in vec2 v_uv;
flat in vec2 v_mat;
void main() {
#ifndef SOLID  // SOLID: the program for every kind but foliage (no discard: early depth tests)
    if (int(v_mat.y + 0.5) == FOLIAGE && texture(u_tex, vec3(v_uv, v_mat.x)).a < 0.5) discard;
#endif
}
