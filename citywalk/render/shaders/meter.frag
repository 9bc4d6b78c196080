#version 330
// Down-samples the HDR frame for exposure metering (one bilinear tap per output pixel).
in vec2 v_ndc;
uniform sampler2D u_hdr;
out vec4 f_color;
void main() { f_color = vec4(texture(u_hdr, v_ndc * 0.5 + 0.5).rgb, 1.0); }
