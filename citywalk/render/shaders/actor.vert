#version 330
// An actor quad in world space (the camera-facing card, its projected sun shadow or its
// contact shadow): position, texture uv and the card-plane offset from the foot column (m).
in vec3 in_pos;
in vec2 in_uv;
in float in_side;
uniform mat4 u_view_proj;
out vec2 v_uv;
out float v_side;
void main() {
    v_uv = in_uv;
    v_side = in_side;
    gl_Position = u_view_proj * vec4(in_pos, 1.0);
}
