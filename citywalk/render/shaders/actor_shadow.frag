#version 330
// Multiplicative shadows on the ground (blend ZERO, SRC_COLOR): u_kind 0 is the actor's
// silhouette projected along the sun (softened by a blurrier mip level), 1 the contact
// shadow, an ellipse under the feet with uv in -1..1.
in vec2 v_uv;
uniform sampler2D u_tex;
uniform float u_kind;
uniform float u_strength;      // darkening at full coverage, 0..1
uniform float u_blur_lod;
out vec4 f_color;

void main() {
    float cover;
    if (u_kind < 0.5) {
        cover = textureLod(u_tex, v_uv, u_blur_lod).a;
    } else {
        float r2 = dot(v_uv, v_uv);
        if (r2 >= 1.0) discard;
        cover = (1.0 - r2) * (1.0 - r2);
    }
    if (cover < 0.004) discard;
    f_color = vec4(vec3(1.0 - u_strength * cover), 1.0);
}
