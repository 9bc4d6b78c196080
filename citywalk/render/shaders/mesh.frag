#version 330
// Forward shading in linear kcd/m²: sun with shadow map, sky ambient, nearby lamps,
// emission, procedural facade windows and shopfronts. Output: HDR radiance.
#define PI 3.14159265
#define FACADE 1
#define SHOPFRONT 2
#define EMISSIVE 3
#define ROAD 4
#define FOLIAGE 5
#define KIND_SET 63   // bit k: material kind k may be drawn (an uber program compiles only those)
#define MAY_BE(k) ((KIND_SET & (1 << (k))) != 0)
#define PCSS 1   // soft, contact-hardening sun shadows; MeshPass sets 0 on a software rasteriser
// Which lights and weather the frame has (meshes.light_features): llvmpipe runs a branch whose
// uniform condition is false at full cost, so MeshPass compiles out what the light lacks.
#define HAS_SUN 1
#define HAS_MOON 1
#define HAS_LAMPS 1
#define HAS_WET 1
#define HAS_PUDDLES 1
#define HAS_SNOW 1
#define HAS_AMBIENT_CUBE 1

in vec3 v_pos;
in vec3 v_nrm;
in vec2 v_uv;
in vec3 v_col;
flat in vec4 v_mat;
in float v_rough;

uniform sampler2DArray u_tex;
uniform sampler2DArray u_pbr;   // per layer: tangent-space normal xyz, roughness (z = 0: none)
uniform float u_wear_layer;     // layer of the road wear family (16 m repeat), -1: none
uniform sampler2D u_sky;
uniform sampler2DShadow u_shadow;
uniform mat4 u_shadow_mat;
uniform float u_use_shadow;
uniform sampler2D u_shadow_depth;   // the same map as plain depths (PCSS blocker search)
uniform float u_shadow_depth_m;     // depth range of the map, m
uniform float u_shadow_extent_m;    // width of the map, m
uniform float u_sun_softness;       // penumbra half-width per metre to the occluder; 0: hard
uniform vec3 u_cam_pos;
uniform vec3 u_sun_dir;
uniform vec3 u_sun_E;
uniform vec3 u_amb_up;
uniform vec3 u_amb_ground;
uniform float u_lights_on;
uniform float u_lit_share;
uniform sampler3D u_lamp_total;   // lamp illuminance rgb (klux), luminance in a
uniform sampler3D u_lamp_dir;     // luminance-weighted sum of directions toward lamps
uniform vec3 u_lamp_origin;
uniform vec3 u_lamp_size;
uniform float u_use_lamps;
uniform vec3 u_moon_dir;
uniform float u_moon_E;
uniform float u_wetness;        // 0..1 wet surfaces: darker, glossier
uniform float u_puddles;        // 0..1 share of flat ground under standing water
uniform float u_snow;           // 0..1 snow cover on up-facing surfaces
uniform float u_flash;          // lightning: extra sky light, klux
uniform sampler3D u_ao_a;       // baked sky visibility toward +x -x +y -y (bake.py)
uniform sampler3D u_ao_b;       // ... toward +z; contact visibility toward +z; contact, most open horizontal axis
uniform vec3 u_ao_origin;
uniform vec3 u_ao_size;
uniform float u_ao_offset;      // m off the surface where the volume is read
uniform float u_use_ao;         // 1 baked volume, 0 none (height heuristic), -1 the light before the bake
uniform vec3 u_env[6];          // sky (+ ground) irradiance on planes facing +x -x +y -y +z -z, klux
uniform vec3 u_bounce_E;        // what occluded sky is replaced by: nearby surfaces' light, klux

out vec4 f_color;

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

float value_noise(vec2 p) {
    vec2 i = floor(p), f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    return mix(mix(hash12(i), hash12(i + vec2(1, 0)), u.x), mix(hash12(i + vec2(0, 1)), hash12(i + vec2(1, 1)), u.x), u.y);
}

vec3 sky_lookup(vec3 d) {
    float az = atan(d.x, d.y);
    if (az < 0.0) az += 2.0 * PI;
    float el = asin(clamp(d.z, -1.0, 1.0));
    return texture(u_sky, vec2(az / (2.0 * PI), el / PI + 0.5)).rgb;
}

const float BLOCKER_SEARCH_M = 0.6;
const int BLOCKER_TAPS = 6;
const int PCF_TAPS = 10;

// Tap i of n on a Vogel (golden-angle) disk of unit radius, turned by angle a.
vec2 vogel(int i, int n, float a) {
    float r = sqrt((float(i) + 0.5) / float(n));
    float t = float(i) * 2.3999632 + a;
    return r * vec2(cos(t), sin(t));
}

// Sun visibility with contact-hardening soft edges (PCSS): the mean depth of the occluders
// around the point gives its distance to them, and the penumbra grows with it (u_sun_softness
// metres per metre). The taps turn per pixel (a fine noise the film grain hides), and the depth
// test is relaxed by the receiver's slope over the kernel so that wide kernels do not self-shadow.
float sun_shadow(vec3 p, vec3 n) {
    if (u_use_shadow < 0.5) return 1.0;
    vec4 s = u_shadow_mat * vec4(p + n * 0.04, 1.0);
    vec3 c = s.xyz / s.w * 0.5 + 0.5;
    if (c.x < 0.0 || c.x > 1.0 || c.y < 0.0 || c.y > 1.0 || c.z > 1.0) return 1.0;
    float zr = c.z - 0.0008;
#if PCSS == 0
    return texture(u_shadow, vec3(c.xy, zr));
#else
    if (u_sun_softness <= 0.0) return texture(u_shadow, vec3(c.xy, zr));
    float a = hash12(gl_FragCoord.xy) * 6.2831853;
    float search = BLOCKER_SEARCH_M / u_shadow_extent_m;
    float sum = 0.0, count = 0.0;
    for (int i = 0; i < BLOCKER_TAPS; i++) {
        float d = texture(u_shadow_depth, c.xy + vogel(i, BLOCKER_TAPS, a) * search).r;
        if (d < zr - 0.05 / u_shadow_depth_m) { sum += d; count += 1.0; }
    }
    // no occluder around: lit; occluders all around: umbra (a penumbra needs both in reach)
    if (count < 0.5 || count > float(BLOCKER_TAPS) - 0.5) return texture(u_shadow, vec3(c.xy, zr));
    float dist_m = (zr - sum / count) * u_shadow_depth_m;
    float radius_m = clamp(dist_m * u_sun_softness, 0.04, BLOCKER_SEARCH_M);
    float ndl = max(dot(n, u_sun_dir), 0.05);
    float slope = min(sqrt(1.0 - ndl * ndl) / ndl, 4.0);
    float zk = zr - radius_m * slope / u_shadow_depth_m;
    float lit = 0.0;
    for (int i = 0; i < PCF_TAPS; i++) {
        lit += texture(u_shadow, vec3(c.xy + vogel(i, PCF_TAPS, a) * (radius_m / u_shadow_extent_m), zk));
    }
    return lit / float(PCF_TAPS);
#endif
}

// Ambient light from the sky model's ambient cube, each axis dimmed by the baked sky visibility
// (the hidden share sees nearby surfaces instead: one bounce) and by contact occlusion (which
// hides the bounce too); outside the volume, or without a bake, the old canyon heuristic.
vec3 ambient_light(vec3 p, vec3 n) {
    vec3 n2 = n * n;
    vec3 ex = n.x >= 0.0 ? u_env[0] : u_env[1];
    vec3 ey = n.y >= 0.0 ? u_env[2] : u_env[3];
    vec3 ez = n.z >= 0.0 ? u_env[4] : u_env[5];
    vec3 canyon = vec3(mix(0.7, 1.0, smoothstep(0.0, 12.0, p.z)));
    // branch-free (llvmpipe runs both sides of a branch): read the volume, clamped at its sides,
    // and fade to the height heuristic toward and beyond them (no seam where the bake ends)
    vec3 vc = (p + n * u_ao_offset - u_ao_origin) / u_ao_size;
    vec4 a = texture(u_ao_a, vc);
    vec4 b = texture(u_ao_b, vc);
    float edge = u_use_ao * smoothstep(0.0, 0.08, min(min(vc.x, 1.0 - vc.x), min(vc.y, 1.0 - vc.y)))
               * step(0.0, vc.z) * step(vc.z, 1.0);
    vec3 vis = mix(canyon, vec3(n.x >= 0.0 ? a.x : a.y, n.y >= 0.0 ? a.z : a.w, n.z >= 0.0 ? b.x : 1.0), edge);
    float near = mix(1.0, mix(b.z, n.z >= 0.0 ? b.y : 1.0, n2.z), edge);
    return near * (n2.x * mix(u_bounce_E, ex, vis.x) + n2.y * mix(u_bounce_E, ey, vis.y)
                 + n2.z * mix(u_bounce_E, ez, vis.z));
}

// Blinn-Phong lobe normalised to energy, with Schlick Fresnel (F0 = f0).
vec3 specular(vec3 n, vec3 v, vec3 l, vec3 E, float rough, float f0) {
    vec3 h = normalize(v + l);
    float shin = 2.0 / max(rough * rough * rough * rough, 1e-3) - 2.0;
    float f = f0 + (1.0 - f0) * pow(1.0 - max(dot(h, v), 0.0), 5.0);
    return E * f * (shin + 8.0) / (8.0 * PI) * pow(max(dot(n, h), 0.0), shin) * max(dot(n, l), 0.0);
}


// ---- materials: normal maps, roads, windows with rooms behind them -------------------------
#define FACADE_TILE_M 1.5   // wall families repeat every 1.5 m on facades (materials.py)

// dP/du and dP/dv (metres per uv unit) from screen derivatives: the vertex format has no tangents.
void uv_frame(out vec3 dpdu, out vec3 dpdv) {
    vec3 px = dFdx(v_pos), py = dFdy(v_pos);
    vec2 ux = dFdx(v_uv), uy = dFdy(v_uv);
    float det = ux.x * uy.y - ux.y * uy.x;
    if (det == 0.0) { dpdu = vec3(0.0); dpdv = vec3(0.0); return; }
    dpdu = (uy.y * px - ux.y * py) / det;
    dpdv = (ux.x * py - uy.x * px) / det;
}

// A tangent-space normal nt (x along +u, y along +v) turned into world space around n.
vec3 bend(vec3 n, vec3 dpdu, vec3 dpdv, vec3 nt) {
    vec3 t = dpdu - n * dot(n, dpdu), b = dpdv - n * dot(n, dpdv);
    float lt = length(t), lb = length(b);
    if (lt < 1e-9 || lb < 1e-9) return n;
    return normalize(t / lt * nt.x + b / lb * nt.y + n * nt.z);
}

// Roughness widened by the normal spread that the mip filter averaged away (the averaged normal
// is shorter): far walls and roads turn matte instead of sparkling.
float spread_rough(float rough, float len_nt) {
    float var = clamp((1.0 - len_nt) / max(len_nt, 1e-3), 0.0, 1.0);
    return clamp(sqrt(rough * rough + 2.0 * var), 0.02, 1.0);
}

// Cast-iron manhole covers: a chance per 9 m world cell, at a hashed spot. Returns coverage
// and bends n / sets albedo and roughness where a cover is.
void manhole(vec2 p, inout vec3 albedo, inout vec3 n, inout float rough) {
    vec2 cell = floor(p / 9.0);
    if (hash12(cell + 71.3) > 0.2) return;
    vec2 c = (cell + 0.3 + 0.4 * vec2(hash12(cell + 3.1), hash12(cell + 8.7))) * 9.0;
    vec2 d = p - c;
    float r = length(d);
    const float R = 0.32;
    if (r > R + 0.08) return;
    float aa = max(fwidth(r), 1e-4);
    float cover = 1.0 - smoothstep(R - aa, R + aa, r);
    float frame = smoothstep(R - aa, R + aa, r) * (1.0 - smoothstep(R + 0.06 - aa, R + 0.06 + aa, r));
    float gap = 1.0 - smoothstep(0.0, 0.008 + aa, abs(r - R));
    vec2 q = fract(d / 0.055) - 0.5;
    float detail = 1.0 - smoothstep(0.01, 0.03, max(fwidth(p.x), fwidth(p.y)));  // fades before it aliases
    float stud = (1.0 - smoothstep(0.18, 0.3, length(q))) * detail * step(r, R - 0.04);
    float ring = (1.0 - smoothstep(0.0, 0.012 + aa, abs(r - (R - 0.03)))) * detail;
    vec3 iron = vec3(0.045, 0.043, 0.042) * (1.0 + 1.2 * stud + 0.8 * ring);
    albedo = mix(albedo, iron, cover);
    albedo = mix(albedo, vec3(0.09, 0.088, 0.085), frame);
    albedo *= 1.0 - 0.8 * gap;
    rough = mix(rough, mix(0.55, 0.32, stud), max(cover, frame));
    vec2 g = -q * stud * 0.9 + (d / max(r, 1e-4)) * gap * 0.6;
    n = normalize(n + vec3(g, 0.0) * cover);
}

// What a facade pane mirrors: the sky, or the street's other side — a facade (wall, windows,
// lit at night as the street's are) on a plane `across_m` in front of this wall, up to a
// hashed height. Radiance.
vec3 mirrored(vec3 p, vec3 rdir, vec3 n_geo, vec3 tu, float across_m) {
    vec3 d = rdir;              // one sky lookup for both the sky and the far side's windows
    float sky_share = 1.0;
    vec3 add = vec3(0.0);
    float dn = dot(rdir, n_geo);
    if (dn > 0.05) {
        vec3 hit = p + rdir * (across_m / dn);
        vec2 g = vec2(dot(hit, tu) / 2.6, hit.z / 3.1);
        float bld = floor(g.x / 3.0);
        float top = 9.0 + 14.0 * hash12(vec2(bld, 5.0));
        if (hit.z < top && hit.z > 0.0) {
            vec2 gf = fract(g), gc = floor(g);
            if (hit.z > 3.3 && gf.x > 0.22 && gf.x < 0.78 && gf.y > 0.3 && gf.y < 0.8) {
                float on = step(hash12(gc + 41.0), u_lit_share * u_lights_on);
                d = vec3(-rdir.xy, max(rdir.z, 0.05));
                sky_share = 0.08;
                add = on * vec3(1.0, 0.72, 0.45) * 0.02;
            } else {
                vec3 wallc = mix(vec3(0.42, 0.38, 0.33), vec3(0.55, 0.55, 0.53), hash12(vec2(bld, 2.0)));
                vec3 E = u_amb_up * 0.55 + u_sun_E * 0.25 * max(u_sun_dir.z, 0.0);
                return wallc / PI * E;
            }
        }
    }
    return sky_lookup(d) * sky_share + add;
}

// Per-room look behind a window: wall colour, floor, furniture, curtains; hashed per cell.
vec3 room_wall_color(float h) {
    vec3 c0 = vec3(0.62, 0.58, 0.50), c1 = vec3(0.50, 0.55, 0.50), c2 = vec3(0.66, 0.64, 0.60);
    vec3 c3 = vec3(0.45, 0.50, 0.58), c4 = vec3(0.60, 0.48, 0.38);
    return h < 0.3 ? c0 : (h < 0.45 ? c1 : (h < 0.75 ? c2 : (h < 0.88 ? c3 : c4)));
}

// The room behind a window pane, ray-cast analytically: a box the size of the window cell
// (w_m x h_m) and depth_m deep, entered at p0 (metres on the glass plane) along d (x along u,
// y along v, z into the wall). Returns the room's albedo at the hit and, in `shade`, how much of
// the room's light reaches it (ceiling lamp, window daylight falling off with depth).
vec3 room(vec2 p0, vec3 d, float w_m, float h_m, float depth_m, float h, out float shade, out float glow) {
    vec3 o = vec3(p0, 0.0);
    float tx = d.x > 0.0 ? (w_m - o.x) / d.x : -o.x / min(d.x, -1e-6);
    float ty = d.y > 0.0 ? (h_m - o.y) / d.y : -o.y / min(d.y, -1e-6);
    float tz = depth_m / max(d.z, 1e-6);
    float t = min(min(tx, ty), tz);
    vec3 q = o + d * t;
    vec2 uvq;
    vec3 wall = room_wall_color(fract(h * 7.31));
    vec3 col;
    float depth01 = clamp(q.z / depth_m, 0.0, 1.0);
    glow = 0.0;
    if (t == tz) {                    // back wall: a cabinet or sofa, a picture, a doorway
        col = wall;
        vec2 b = vec2(q.x / w_m, q.y / h_m);
        float k = fract(h * 3.7);
        if (b.y < 0.3 && abs(b.x - fract(h * 5.3) * 0.6 - 0.2) < 0.22) col = k < 0.5 ? vec3(0.12, 0.09, 0.07) : vec3(0.30, 0.22, 0.16);
        else if (k > 0.7 && b.y > 0.45 && b.y < 0.7 && abs(b.x - 0.5) < 0.12) col = vec3(0.25, 0.3, 0.35);
        else if (k < 0.25 && b.y < 0.75 && abs(b.x - 0.82) < 0.1) col = wall * 0.35;
        shade = 0.65;
    } else if (t == ty) {
        if (d.y < 0.0) {              // floor: boards or carpet
            float boards = step(0.5, fract(h * 11.0));
            vec3 wood = vec3(0.30, 0.19, 0.11) * (0.85 + 0.3 * hash12(vec2(floor(q.x / 0.14), h * 50.0)));
            col = mix(vec3(0.22, 0.22, 0.23), wood, boards);
            shade = mix(1.0, 0.55, depth01);
        } else {                      // ceiling with a lamp in the middle
            col = vec3(0.75);
            vec2 lc = vec2(q.x - w_m * 0.5, q.z - depth_m * 0.5);
            glow = 1.0 - smoothstep(0.1, 0.16, length(lc));
            shade = 0.55 + 0.45 * (1.0 - smoothstep(0.0, 1.8, length(lc)));
        }
    } else {                          // side walls
        col = wall * 0.9;
        shade = mix(0.85, 0.5, depth01);
    }
    return col;
}

// Inside the window opening: reveal (the opening's sides, glass set back), frame and mullions,
// then the pane: the room behind it, curtains or blinds, and the pane's own slight tilt.
// Writes albedo/emit/n/rough/f0/reflectivity of the FACADE branch; `lit` follows the
// lit-window draw of the night.
void facade_window(vec2 cell, vec2 f, vec4 r, vec3 dpdu, vec3 dpdv, vec3 n_geo, vec3 v, float variation,
                   float lit, inout vec3 albedo, inout vec3 emit, inout vec3 n, inout float rough,
                   inout float f0, inout float reflectivity) {
    float w_m = max(length(dpdu), 0.3), h_m = max(length(dpdv), 0.3);
    vec3 tu = dpdu / w_m, tv = dpdv / h_m;
    vec3 dir = -v;
    vec3 d = normalize(vec3(dot(dir, tu), dot(dir, tv), max(dot(dir, -n_geo), 0.05)));
    int wstyle = int(floor(variation * 4.0));
    float reveal_m = wstyle == 0 ? 0.14 : (wstyle == 1 ? 0.08 : 0.03);
    vec2 pm = f * vec2(w_m, h_m) + d.xy * (reveal_m / d.z);   // where the ray meets the glass plane
    vec2 lo = r.xy * vec2(w_m, h_m), hi = r.zw * vec2(w_m, h_m);
    if (any(lessThan(pm, lo)) || any(greaterThan(pm, hi))) {
        albedo *= 0.55;                                         // the reveal, in the opening's shade
        n = n_geo;
        return;
    }
    float h = hash12(cell + variation * 97.0);
    float fh = fract(variation * 13.7);
    vec3 frame_col = fh < 0.5 ? vec3(0.08, 0.08, 0.085) : (fh < 0.8 ? vec3(0.62, 0.62, 0.60) : vec3(0.32, 0.33, 0.34));
    vec2 e = min(pm - lo, hi - pm);
    float mull = 1e3;
    if (wstyle == 0) mull = min(abs(pm.x - 0.5 * (lo.x + hi.x)), abs(pm.y - mix(lo.y, hi.y, 0.68)));
    else if (wstyle == 1) mull = abs(fract(pm.x / 1.2) - 0.5) * 1.2 - 0.55;
    if (min(e.x, e.y) < 0.055 || mull < 0.025) {
        albedo = frame_col;
        rough = 0.45;
        n = n_geo;
        return;
    }
    // the pane: tilted a little per cell, so neighbouring panes reflect the sky differently
    vec2 tilt = (vec2(hash12(cell * 1.3 + 4.0), hash12(cell * 2.1 + 9.0)) - 0.5) * 0.025;
    n = normalize(n_geo + tu * tilt.x + tv * tilt.y);
    albedo = vec3(0.01);
    rough = 0.05;
    reflectivity = 1.0;
    f0 = 0.04;
    float shade, glow;
    float depth_m = 3.0 + 2.5 * fract(h * 17.3);
    vec3 col = room(pm, d, w_m, h_m, depth_m, h, shade, glow);
    // light inside: daylight through the window (a small share of the outdoor light), or the lamp
    float day = 0.05 * (u_amb_up.g + 0.25 * u_sun_E.g * max(u_sun_dir.z, 0.0));
    float k = hash12(cell.yx + 13.1 + variation);
    vec3 lamp = (k < 0.7 ? vec3(1.0, 0.70, 0.42) : vec3(0.86, 0.90, 1.0)) * (0.6 + 0.6 * hash12(cell * 3.7));
    vec3 E = vec3(day) * (0.4 + 0.6 * shade) + lit * lamp * (0.1 * shade + 1.0 * glow);
    vec3 inside = col / PI * E + vec3(0.0005);
    // curtains (at the sides), blinds (from the top) or net curtains, just behind the glass
    float ck = fract(h * 23.1);
    vec2 wf = (pm - lo) / (hi - lo);
    vec3 cloth = room_wall_color(fract(h * 5.9)) * vec3(1.0, 0.92, 0.85);
    float cover = 0.0;
    if (ck < 0.35) {
        float open = 0.12 + 0.3 * fract(h * 31.0);
        cover = step(wf.x, open) + step(1.0 - open, wf.x);
        cloth *= 0.75 + 0.25 * cos(wf.x * 60.0);
    } else if (ck < 0.6) {
        float down = 0.25 + 0.6 * fract(h * 41.0);
        cover = step(1.0 - down, wf.y);
        cloth = vec3(0.7, 0.68, 0.63) * (0.8 + 0.2 * step(0.3, fract(wf.y * h_m / 0.05)));
    } else if (ck < 0.75) {
        cover = 0.7;
        cloth = vec3(0.8, 0.8, 0.78);
    }
    vec3 cloth_rad = cloth / PI * (vec3(day) * 1.4 + lit * lamp * 0.18);
    inside = mix(inside, cloth_rad, cover);
    float fres = f0 + (1.0 - f0) * pow(1.0 - max(dot(n, v), 0.0), 5.0);
    float across_m = max(dot(u_cam_pos - v_pos, n_geo) + 2.0, 9.0);  // the camera stands in the street
    emit = inside * (1.0 - fres) + mirrored(v_pos, reflect(-v, n), n_geo, tu, across_m) * fres * 0.9;
    reflectivity = 0.0;  // the mirror image is in emit
}

void main() {
    vec3 n = normalize(v_nrm);
    if (!gl_FrontFacing) n = -n;
    vec3 v = normalize(u_cam_pos - v_pos);
    int layer = int(v_mat.x + 0.5);
#ifdef KIND
    const int kind = KIND;        // one program per material kind: llvmpipe runs every branch of
#else                             // the shader masked, so each kind then pays only for its own
    int kind = int(v_mat.y + 0.5);
#endif
    float emissive = v_mat.z * 0.1;  // material emission is in 100 cd/m²
    float variation = v_mat.w;
    float rough = v_rough;
    float f0 = 0.04;

    vec3 n_geo = n;
    vec3 dpdu, dpdv;
    uv_frame(dpdu, dpdv);
    vec2 tuv = (MAY_BE(FACADE) && kind == FACADE) ? v_uv * vec2(length(dpdu), length(dpdv)) / FACADE_TILE_M : v_uv;
    if (MAY_BE(FOLIAGE) && kind == FOLIAGE && texture(u_tex, vec3(tuv, float(layer))).a < 0.5) discard;  // leaf cards (as shadow.frag)
    vec3 tex = pow(texture(u_tex, vec3(tuv, float(layer))).rgb, vec3(2.2));
    vec4 pbr = texture(u_pbr, vec3(tuv, float(layer)));
    if (pbr.z > 0.25) {               // the layer has a normal + roughness map
        vec3 nt = pbr.xyz * 2.0 - 1.0;
        float len_nt = max(length(nt), 1e-3);
        n = bend(n, dpdu, dpdv, nt / len_nt);
        rough = spread_rough(pbr.a, len_nt);
    }
    vec3 albedo = tex * v_col;
    vec3 emit = vec3(0.0);
    float reflectivity = 0.0;   // extra mirror-like sky reflection (glass)

    if (MAY_BE(FACADE) && kind == FACADE) {
        vec2 cell = floor(v_uv);
        vec2 f = fract(v_uv);
        int wstyle = int(floor(variation * 4.0));
        vec4 r = wstyle == 0 ? vec4(0.22, 0.28, 0.78, 0.82) : (wstyle == 1 ? vec4(0.03, 0.34, 0.97, 0.80) : vec4(0.03, 0.05, 0.97, 0.95));
        bool window = cell.y >= 0.0 && f.x > r.x && f.x < r.z && f.y > r.y && f.y < r.w;
        // weathering that does not repeat with the texture: soft blotches, a darker splash zone
        albedo *= 0.9 + 0.2 * value_noise(v_pos.xy * 0.9 + v_pos.z * 0.7) * value_noise(vec2(v_pos.z, v_pos.x + v_pos.y) * 0.35);
        albedo *= mix(0.82, 1.0, smoothstep(0.0, 0.7, v_pos.z));
        if (window) {
            float lit = step(hash12(cell + variation * 97.0), u_lit_share * u_lights_on);
            facade_window(cell, f, r, dpdu, dpdv, n_geo, v, variation, lit, albedo, emit, n, rough, f0, reflectivity);
        } else if (cell.y >= 0.0 && f.y < r.y && f.y > r.y - 0.3 && f.x > r.x && f.x < r.z) {
            // rain streaks washed down from the sill
            float streak = value_noise(vec2(f.x * length(dpdu) * 9.0, cell.x * 7.0 + cell.y * 3.0));
            albedo *= 1.0 - 0.3 * smoothstep(0.4, 0.9, streak) * (1.0 - (r.y - f.y) / 0.3);
        } else if (cell.y >= 0.0 && f.y < 0.1) {
            albedo *= 0.8;  // floor band
        }
    } else if (MAY_BE(SHOPFRONT) && kind == SHOPFRONT) {
        // glass in front of a lit shop (uv in metres from the glass's lower corner): shelves of
        // small coloured goods, a bright ceiling strip, mullions every 1.6 m
        vec2 f = v_uv;
        bool mullion = fract(f.x / 1.6) < 0.03 || f.y < 0.05;
        if (mullion) {
            albedo = vec3(0.10);
        } else {
            albedo = vec3(0.02);
            rough = 0.05;
            reflectivity = 0.9;
            f0 = 0.05;
            float row = floor(f.y / 0.42);
            float fy = fract(f.y / 0.42);
            float slot = floor(f.x / 0.11);
            float h = hash12(vec2(slot, row) + variation * 31.0);
            vec3 goods = 0.55 + 0.45 * cos(6.2832 * (h + vec3(0.0, 0.33, 0.67)));
            float tall = 0.35 + 0.5 * hash12(vec2(slot * 1.7, row + 5.0));
            float item = step(0.08, fy) * step(fy, 0.08 + 0.8 * tall) * step(0.12, fract(f.x / 0.11)) * step(0.25, h);
            vec3 interior = mix(vec3(0.18, 0.17, 0.16), goods * 0.8, item);
            interior = fy < 0.05 ? vec3(0.8) : interior;                      // shelf edges
            interior = f.y > 2.35 ? vec3(1.6) : interior;                      // ceiling lights
            interior = f.y < 0.5 ? vec3(0.12) : interior;                      // counter / floor
            vec3 tint = mix(vec3(1.0, 0.88, 0.72), vec3(0.88, 0.95, 1.0), step(0.55, hash12(vec2(variation * 7.0, 1.0))));
            emit = interior * tint * emissive;
        }
        emissive = 0.0;
    } else if (MAY_BE(ROAD) && kind == ROAD) {
        // wear at a 16 m repeat over the 4 m asphalt, a broad tone that repeats with neither, covers
        if (u_wear_layer >= 0.0) {
            vec3 wuv = vec3(v_uv * 0.25, u_wear_layer);
            albedo *= pow(texture(u_tex, wuv).rgb, vec3(2.2)) * 2.0;
            vec4 wp = texture(u_pbr, wuv);
            vec3 wn = bend(n_geo, dpdu, dpdv, normalize(wp.xyz * 2.0 - 1.0));
            n = normalize(n + wn - n_geo);
            rough = min(rough, wp.a);
        }
        albedo *= 0.8 + 0.4 * value_noise(v_pos.xy * 0.045 + 3.0) * (0.6 + 0.4 * value_noise(v_pos.xy * 0.21));
        manhole(v_pos.xy, albedo, n, rough);
    }
    if (MAY_BE(EMISSIVE) && kind == EMISSIVE) {
        emit = albedo * emissive * mix(0.25, 1.0, u_lights_on) * (1.0 - variation);  // variation damps a glow
    }

    // weather on surfaces: snow settles on what faces up; water darkens and glosses, pools on flat ground
    float up_facing = smoothstep(0.55, 0.9, n.z);
    float ssr = 0.0;
#if HAS_SNOW
    if (u_snow > 0.0 && up_facing > 0.0) {
        float drift = value_noise(v_pos.xy * 0.7) * 0.5 + value_noise(v_pos.xy * 3.1) * 0.5;
        float cover = up_facing * smoothstep(0.0, 0.35, u_snow - 0.5 * drift + 0.25);
        albedo = mix(albedo, vec3(0.85, 0.87, 0.9), cover);
        rough = mix(rough, 0.75, cover);
        emit *= 1.0 - cover;
    }
#endif
#if HAS_SNOW && HAS_WET
    else
#endif
#if HAS_WET
    if (u_wetness > 0.0 && kind != EMISSIVE) {
        float w = u_wetness * mix(0.25, 1.0, up_facing);
        albedo *= 1.0 - 0.45 * w;
        rough = mix(rough, 0.12, w);
        if (up_facing > 0.0) {
            ssr = 0.35 * w * up_facing;
#if HAS_PUDDLES
            if (u_puddles > 0.0) {
                float pn = value_noise(v_pos.xy * 0.22) * 0.65 + value_noise(v_pos.xy * 0.9) * 0.35;
                float puddle = smoothstep(1.0 - u_puddles, 1.0 - u_puddles + 0.06, pn) * up_facing;
                albedo = mix(albedo, vec3(0.01), puddle);
                rough = mix(rough, 0.02, puddle);
                ssr = mix(ssr, 0.95, puddle);
            }
#endif
        }
    }
#endif

    // sun and moon
    float ndl = max(dot(n, u_sun_dir), 0.0);
    vec3 light = vec3(0.0);
    vec3 spec = vec3(0.0);
#if HAS_SUN
    if (u_sun_E.g > 0.0 && ndl > 0.0) {
        float sh = sun_shadow(v_pos, n);
        light += u_sun_E * ndl * sh;
        spec += specular(n, v, u_sun_dir, u_sun_E, max(rough, 0.08), f0) * sh;
    }
#endif
#if HAS_MOON
    if (u_moon_E > 0.0) light += vec3(0.75, 0.82, 1.0) * u_moon_E * max(dot(n, u_moon_dir), 0.0);
#endif
    // sky and ground bounce; street canyons see less sky near the ground
#if HAS_AMBIENT_CUBE
    light += ambient_light(v_pos, n) + vec3(u_flash) * (0.5 + 0.5 * n.z);
#else
    float canyon = mix(0.7, 1.0, smoothstep(0.0, 12.0, v_pos.z));
    light += mix(u_amb_ground, u_amb_up + vec3(u_flash), 0.5 + 0.5 * n.z) * canyon;
#endif
    // lamps, from the irradiance volume (sampled half a cell off the surface)
#if HAS_LAMPS
    if (u_use_lamps > 0.5) {
        vec3 vc = (v_pos + n * 0.4 - u_lamp_origin) / u_lamp_size;
        if (all(greaterThanEqual(vc, vec3(0.0))) && all(lessThanEqual(vc, vec3(1.0)))) {
            vec4 tot = texture(u_lamp_total, vc);
            if (tot.a > 1e-7) {
                vec3 sum_dir = texture(u_lamp_dir, vc).xyz / tot.a;
                float k = min(length(sum_dir), 1.0);
                vec3 d = sum_dir / max(k, 1e-4);
                vec3 E = tot.rgb * u_lights_on;
                light += E * ((1.0 - k) * 0.5 + k * max(dot(n, d), 0.0));
                if (rough < 0.5) spec += specular(n, v, d, E * k, max(rough, 0.12), f0);
            }
        }
    }
#endif
    vec3 radiance = albedo / PI * light + spec + emit;
    if (reflectivity > 0.0) {
        vec3 rdir = reflect(-v, n);
        float fres = f0 + (1.0 - f0) * pow(1.0 - max(dot(n, v), 0.0), 5.0);
        radiance += sky_lookup(rdir) * fres * reflectivity * 0.8;
    }
    // a degenerate normal (normalize of zero) at a rare pixel gives NaN: black here, not a NaN the
    // bloom blur would spread into a black box
    if (any(isnan(radiance)) || any(isinf(radiance))) radiance = vec3(0.0);
    f_color = vec4(radiance, ssr);  // alpha: how mirror-like this pixel is (screen-space reflections)
}
