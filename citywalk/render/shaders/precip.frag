#version 330
// Radiance of a drop or flake: sky light from all around plus nearby lamps, scaled by how much
// of the pixel it covers (drops are thin, flakes round). Additive for rain, over for snow.
uniform vec3 u_ambient;       // klux
uniform float u_snow;
uniform float u_opacity;
in vec3 v_light;
in float v_fade;
out vec4 f_color;
void main() {
    vec3 e = u_ambient + v_light;
    if (u_snow > 0.5) {
        vec2 q = gl_PointCoord * 2.0 - 1.0;
        float a = (1.0 - smoothstep(0.6, 1.0, dot(q, q))) * u_opacity * v_fade;
        f_color = vec4(0.8 * e / 3.14159 * a, a);
    } else {
        // water drops refract the bright surroundings: about as bright as the sky, lamp-lit more
        vec3 lamp = v_light / (1.0 + 4.0 * dot(v_light, vec3(0.33)));   // saturate close to a lamp
        f_color = vec4((0.9 * u_ambient + 0.6 * lamp) / 3.14159 * u_opacity * v_fade, 0.0);
    }
}
