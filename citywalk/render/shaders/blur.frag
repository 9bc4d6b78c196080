#version 330
// Separable Gaussian blur, 9 taps (σ ≈ 2 texels) along u_dir (in texels of u_src).
in vec2 v_ndc;
uniform sampler2D u_src;
uniform vec2 u_dir;
out vec4 f_color;
void main() {
    vec2 uv = v_ndc * 0.5 + 0.5;
    const float w[5] = float[](0.2270, 0.1945, 0.1216, 0.0541, 0.0162);
    vec3 c = texture(u_src, uv).rgb * w[0];
    for (int i = 1; i < 5; i++) {
        c += texture(u_src, uv + u_dir * float(i)).rgb * w[i];
        c += texture(u_src, uv - u_dir * float(i)).rgb * w[i];
    }
    f_color = vec4(c, 1.0);
}
