#version 430
// One primitive per Gaussian: a point sprite (SPLAT_POINTS defined; small splats) or an indexed
// quad. Reads the Gaussian named by the sorted index, projects its covariance with the EWA
// Jacobian (+0.3 px² dilation), evaluates SH colour for this view, and covers exactly the region
// where alpha >= 1/255 (quad: eigen-aligned rectangle; point: enclosing square).
// Pixel convention: OpenCV (u right, v down, pixel centres at integers); GL NDC y is flipped so
// the image's top row is the framebuffer's top row. The viewport is enlarged by u_guard pixels on
// every side so point sprites whose centre is just off-screen are not clipped away.

layout(std430, binding = 0) readonly buffer Geo { vec4 geo[]; };   // 3 per Gaussian
layout(std430, binding = 1) readonly buffer Sh { uvec4 shq[]; };   // sh_stride per Gaussian, half floats
layout(std430, binding = 2) readonly buffer Order { uint order[]; }; // back-to-front Gaussian indices
#ifdef SPLAT_FADE
// Level-of-detail cross-fade: opacity factor per sorted position (SplatPass with a budget).
layout(std430, binding = 3) readonly buffer Fade { float fade[]; };
#endif

uniform mat3 u_R;          // world → camera rotation (OpenCV)
uniform vec3 u_t;          // world → camera translation
uniform vec4 u_intr;       // fx, fy, cx, cy (px)
uniform vec2 u_size;       // width, height (px)
uniform vec3 u_cam_pos;    // camera centre in world (m)
uniform float u_near;
uniform float u_far;
uniform int u_to_linear;
uniform float u_guard;     // viewport guard band (px)

flat out vec2 v_centre;    // projected centre (OpenCV px)
flat out vec3 v_conic;     // inverse 2D covariance (a, b, c)
flat out vec4 v_color;     // rgb, opacity
flat out float v_z;        // camera z (m)

const float C0 = 0.28209479177387814;
const float C1 = 0.4886025119029199;

vec3 srgb_to_linear(vec3 c) {
    c = max(c, vec3(0.0));
    return mix(c / 12.92, pow((c + 0.055) / 1.055, vec3(2.4)), greaterThan(c, vec3(0.04045)));
}

// SH_DEGREE (0..3) and SH_STRIDE (uvec4 per Gaussian) are #defined by SplatPass at compile time,
// so the unpacking below unrolls with constant indices (dynamic indexing is slow on llvmpipe).
#ifndef SH_DEGREE
#define SH_DEGREE 0
#define SH_STRIDE 1
#endif

vec3 sh_color(uint base, vec3 d) {
    float f[SH_STRIDE * 8];
    for (int j = 0; j < SH_STRIDE; ++j) {
        uvec4 q = shq[base + uint(j)];
        vec2 a = unpackHalf2x16(q.x), b = unpackHalf2x16(q.y);
        vec2 c = unpackHalf2x16(q.z), e = unpackHalf2x16(q.w);
        f[8 * j + 0] = a.x; f[8 * j + 1] = a.y; f[8 * j + 2] = b.x; f[8 * j + 3] = b.y;
        f[8 * j + 4] = c.x; f[8 * j + 5] = c.y; f[8 * j + 6] = e.x; f[8 * j + 7] = e.y;
    }
#define COEFF(j) vec3(f[3 * (j)], f[3 * (j) + 1], f[3 * (j) + 2])
    vec3 col = C0 * COEFF(0);
#if SH_DEGREE >= 1
    float x = d.x, y = d.y, z = d.z;
    col += -C1 * y * COEFF(1) + C1 * z * COEFF(2) - C1 * x * COEFF(3);
#endif
#if SH_DEGREE >= 2
    float xx = x * x, yy = y * y, zz = z * z;
    col += 1.0925484305920792 * x * y * COEFF(4)
         - 1.0925484305920792 * y * z * COEFF(5)
         + 0.31539156525252005 * (2.0 * zz - xx - yy) * COEFF(6)
         - 1.0925484305920792 * x * z * COEFF(7)
         + 0.5462742152960396 * (xx - yy) * COEFF(8);
#endif
#if SH_DEGREE >= 3
    col += -0.5900435899266435 * y * (3.0 * xx - yy) * COEFF(9)
         + 2.890611442640554 * x * y * z * COEFF(10)
         - 0.4570457994644658 * y * (4.0 * zz - xx - yy) * COEFF(11)
         + 0.3731763325901154 * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * COEFF(12)
         - 0.4570457994644658 * x * (4.0 * zz - xx - yy) * COEFF(13)
         + 1.445305721320277 * z * (xx - yy) * COEFF(14)
         - 0.5900435899266435 * x * (xx - 3.0 * yy) * COEFF(15);
#endif
    return max(col + 0.5, vec3(0.0));
}

void main() {
#ifdef SPLAT_POINTS
    uint i = order[uint(gl_VertexID)];
    int corner_id = 0;
    uint sorted_pos = uint(gl_VertexID);
#else
    // Non-instanced indexed quads (llvmpipe runs instanced draws one instance at a time):
    // vertex 4s + c is corner c of the s-th splat in sorted order.
    uint i = order[uint(gl_VertexID) >> 2];
    int corner_id = gl_VertexID & 3;
    uint sorted_pos = uint(gl_VertexID) >> 2;
#endif
    vec4 g0 = geo[3u * i];
    vec4 g1 = geo[3u * i + 1u];
    vec4 g2 = geo[3u * i + 2u];
    vec3 pc = u_R * g0.xyz + u_t;
    float opacity = g0.w;
#ifdef SPLAT_FADE
    opacity *= fade[sorted_pos];
#endif
    if (pc.z <= u_near || pc.z >= u_far || opacity < 1.0 / 255.0) {
        gl_Position = vec4(2.0, 2.0, 2.0, 1.0);   // outside the clip volume: dropped
        return;
    }
    float fx = u_intr.x, fy = u_intr.y;
    float iz = 1.0 / pc.z;
    // Rows of the EWA Jacobian, taken to world space (row vector × R).
    // The Jacobian is taken at x/z, y/z clamped to 1.3x the half field of view (as 3DGS does).
    vec2 lim = 1.3 * 0.5 * u_size / vec2(fx, fy);
    vec2 txy = clamp(pc.xy * iz, -lim, lim);
    vec3 j0 = vec3(fx * iz, 0.0, -fx * txy.x * iz) * u_R;
    vec3 j1 = vec3(0.0, fy * iz, -fy * txy.y * iz) * u_R;
    mat3 S = mat3(g1.x, g1.y, g1.z,
                  g1.y, g1.w, g2.x,
                  g1.z, g2.x, g2.y);
    vec3 s0 = S * j0, s1 = S * j1;
    float a = dot(j0, s0) + 0.3;
    float b = dot(j0, s1);
    float c = dot(j1, s1) + 0.3;
    float det = a * c - b * b;
    if (det <= 0.0) {
        gl_Position = vec4(2.0, 2.0, 2.0, 1.0);
        return;
    }
    v_conic = vec3(c, -b, a) / det;
    // Eigen-frame of the 2D covariance.
    float mid = 0.5 * (a + c);
    float rad = sqrt(max(0.25 * (a - c) * (a - c) + b * b, 0.0));
    float l1 = mid + rad, l2 = max(mid - rad, 1e-6);
    vec2 e1 = abs(b) > 1e-12 ? normalize(vec2(b, l1 - a)) : (a >= c ? vec2(1.0, 0.0) : vec2(0.0, 1.0));
    vec2 e2 = vec2(-e1.y, e1.x);
    float k = sqrt(2.0 * log(255.0 * opacity));   // alpha >= 1/255 inside k sigma
    vec2 centre = vec2(fx * pc.x * iz + u_intr.z, fy * pc.y * iz + u_intr.w);
#ifdef SPLAT_POINTS
    vec2 p = centre;
    gl_PointSize = 2.0 * k * sqrt(l1) + 1.0;
#else
    vec2 corner = vec2(float(corner_id & 1), float(corner_id >> 1)) * 2.0 - 1.0;
    vec2 p = centre + corner.x * k * sqrt(l1) * e1 + corner.y * k * sqrt(l2) * e2;
#endif
    vec2 span = u_size + 2.0 * u_guard;
    gl_Position = vec4((p.x + 0.5 + u_guard) / span.x * 2.0 - 1.0,
                       1.0 - (p.y + 0.5 + u_guard) / span.y * 2.0, 0.0, 1.0);
    v_centre = centre;
    v_z = pc.z;
    vec3 rgb = sh_color(i * uint(SH_STRIDE), normalize(g0.xyz - u_cam_pos));
    if (u_to_linear != 0) rgb = srgb_to_linear(rgb);
    v_color = vec4(rgb, opacity);
}
