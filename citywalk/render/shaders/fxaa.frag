#version 330
// Edge anti-aliasing on the display image (after Lottes' FXAA idea, our own simplified form):
// find the local luma edge direction and blend along it where contrast is high.
in vec2 v_ndc;
uniform sampler2D u_ldr;
uniform vec2 u_texel;
out vec4 f_color;
float luma(vec3 c) { return dot(c, vec3(0.299, 0.587, 0.114)); }
void main() {
    vec2 uv = v_ndc * 0.5 + 0.5;
    // the centre and its diagonal neighbours sit on texel centres: unfiltered fetches (cheaper on
    // llvmpipe than filtered ones), clamped to the edge as the sampler would
    ivec2 px = ivec2(gl_FragCoord.xy), last = textureSize(u_ldr, 0) - 1;
    vec3 cM = texelFetch(u_ldr, px, 0).rgb;
    float lM = luma(cM);
    float lNW = luma(texelFetch(u_ldr, clamp(px + ivec2(-1, -1), ivec2(0), last), 0).rgb);
    float lNE = luma(texelFetch(u_ldr, clamp(px + ivec2(1, -1), ivec2(0), last), 0).rgb);
    float lSW = luma(texelFetch(u_ldr, clamp(px + ivec2(-1, 1), ivec2(0), last), 0).rgb);
    float lSE = luma(texelFetch(u_ldr, clamp(px + ivec2(1, 1), ivec2(0), last), 0).rgb);
    float lo = min(lM, min(min(lNW, lNE), min(lSW, lSE)));
    float hi = max(lM, max(max(lNW, lNE), max(lSW, lSE)));
    if (hi - lo < max(0.04, hi * 0.12)) { f_color = vec4(cM, 1.0); return; }
    vec2 dir = vec2(-((lNW + lNE) - (lSW + lSE)), (lNW + lSW) - (lNE + lSE));
    float reduce = max((lNW + lNE + lSW + lSE) * 0.03125, 1.0 / 128.0);
    float scale = 1.0 / (min(abs(dir.x), abs(dir.y)) + reduce);
    dir = clamp(dir * scale, vec2(-4.0), vec2(4.0)) * u_texel;
    vec3 a = 0.5 * (texture(u_ldr, uv + dir * (1.0 / 3.0 - 0.5)).rgb + texture(u_ldr, uv + dir * (2.0 / 3.0 - 0.5)).rgb);
    vec3 b = a * 0.5 + 0.25 * (texture(u_ldr, uv - dir * 0.5).rgb + texture(u_ldr, uv + dir * 0.5).rgb);
    float lB = luma(b);
    f_color = vec4((lB < lo || lB > hi) ? a : b, 1.0);
}
