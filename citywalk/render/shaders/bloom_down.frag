#version 330
// Bright pass at quarter resolution: exposed radiance above a threshold, 4 bilinear taps. The
// excess is soft-clipped (a lens's veiling glare saturates): a window at 50x white glows like
// one at 5x, not as a blob that swallows the street.
in vec2 v_ndc;
uniform sampler2D u_hdr;
uniform vec2 u_texel;        // 1 / full-resolution size
uniform float u_exposure;
uniform float u_threshold;   // exposed value where glow starts
out vec4 f_color;
void main() {
    vec2 uv = v_ndc * 0.5 + 0.5;
    vec3 c = vec3(0.0);
    c += texture(u_hdr, uv + u_texel * vec2(-1.0, -1.0)).rgb;
    c += texture(u_hdr, uv + u_texel * vec2(1.0, -1.0)).rgb;
    c += texture(u_hdr, uv + u_texel * vec2(-1.0, 1.0)).rgb;
    c += texture(u_hdr, uv + u_texel * vec2(1.0, 1.0)).rgb;
    c *= 0.25 * u_exposure;
    if (any(isnan(c)) || any(isinf(c))) c = vec3(0.0);  // one bad pixel must not become a blurred box
    float peak = max(max(c.r, c.g), c.b);
    float excess = max(peak - u_threshold, 0.0);
    excess = excess / (1.0 + excess / 3.0);
    f_color = vec4(c * excess / max(peak, 1e-4), 1.0);
}
