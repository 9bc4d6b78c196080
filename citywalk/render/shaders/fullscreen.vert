#version 330
// One triangle covering the screen; v_ndc in −1..1.
out vec2 v_ndc;
uniform float u_clip_depth;
void main() {
    vec2 p = vec2((gl_VertexID == 1) ? 3.0 : -1.0, (gl_VertexID == 2) ? 3.0 : -1.0);
    v_ndc = p;
    gl_Position = vec4(p, u_clip_depth, 1.0);
}
