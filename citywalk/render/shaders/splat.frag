#version 430
// Evaluates one Gaussian at this pixel and outputs premultiplied colour and alpha-weighted depth;
// blending ONE, ONE_MINUS_SRC_ALPHA back-to-front composes them ("over").

flat in vec2 v_centre;
flat in vec3 v_conic;
flat in vec4 v_color;
flat in float v_z;

#ifdef SCENE_DEPTH
uniform sampler2D u_scene_depth;   // opaque mesh camera z (m), same layout as the target
#endif
uniform float u_height;            // target height (px), to turn gl_FragCoord into OpenCV pixels

layout(location = 0) out vec4 out_color;
layout(location = 1) out vec4 out_depth;

void main() {
    vec2 d = vec2(gl_FragCoord.x - 0.5, u_height - gl_FragCoord.y - 0.5) - v_centre;
    float m = v_conic.x * d.x * d.x + 2.0 * v_conic.y * d.x * d.y + v_conic.z * d.y * d.y;
    float alpha = min(0.99, v_color.a * exp(-0.5 * m));
    if (alpha < 1.0 / 255.0) discard;
#ifdef SCENE_DEPTH
    // hidden behind the opaque meshes (a program of its own: llvmpipe would fetch it masked)
    if (v_z > texelFetch(u_scene_depth, ivec2(gl_FragCoord.xy), 0).r) discard;
#endif
    out_color = vec4(v_color.rgb * alpha, alpha);
    out_depth = vec4(v_z * alpha, 0.0, 0.0, alpha);
}
