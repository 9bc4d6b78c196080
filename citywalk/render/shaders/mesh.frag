#version 330
// Forward shading in linear kcd/m²: sun with shadow map, sky ambient, nearby lamps,
// emission, procedural facade windows and shopfronts. Output: HDR radiance.
#define PI 3.14159265
#define FACADE 1
#define SHOPFRONT 2
#define EMISSIVE 3
#define ROAD 4
#define PCSS 1   // soft, contact-hardening sun shadows; MeshPass sets 0 on a software rasteriser

in vec3 v_pos;
in vec3 v_nrm;
in vec2 v_uv;
in vec3 v_col;
flat in vec4 v_mat;
in float v_rough;

uniform sampler2DArray u_tex;
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

void main() {
    vec3 n = normalize(v_nrm);
    if (!gl_FrontFacing) n = -n;
    vec3 v = normalize(u_cam_pos - v_pos);
    int layer = int(v_mat.x + 0.5);
    int kind = int(v_mat.y + 0.5);
    float emissive = v_mat.z * 0.1;  // material emission is in 100 cd/m²
    float variation = v_mat.w;
    float rough = v_rough;
    float f0 = 0.04;

    vec3 tex = pow(texture(u_tex, vec3(v_uv, float(layer))).rgb, vec3(2.2));
    vec3 albedo = tex * v_col;
    vec3 emit = vec3(0.0);
    float reflectivity = 0.0;   // extra mirror-like sky reflection (glass)

    if (kind == FACADE) {
        vec2 cell = floor(v_uv);
        vec2 f = fract(v_uv);
        int wstyle = int(floor(variation * 4.0));
        vec4 r = wstyle == 0 ? vec4(0.22, 0.28, 0.78, 0.82) : (wstyle == 1 ? vec4(0.03, 0.34, 0.97, 0.80) : vec4(0.03, 0.05, 0.97, 0.95));
        bool window = cell.y >= 0.0 && f.x > r.x && f.x < r.z && f.y > r.y && f.y < r.w;
        if (window) {
            float frame = min(min(f.x - r.x, r.z - f.x), min(f.y - r.y, r.w - f.y));
            float h = hash12(cell + variation * 97.0);
            if (frame < 0.025) {
                albedo = vec3(0.12, 0.12, 0.13);
            } else {
                albedo = vec3(0.02);
                rough = 0.08;
                reflectivity = 1.0;
                f0 = 0.06;
                if (h < u_lit_share * u_lights_on) {
                    float k = hash12(cell.yx + 13.1 + variation);
                    vec3 warm = k < 0.7 ? vec3(1.0, 0.72, 0.42) : vec3(0.78, 0.88, 1.0);
                    float curtain = 0.55 + 0.45 * smoothstep(0.3, 0.7, fract(f.x * 1.7 + k));
                    emit = warm * 0.035 * curtain * (0.6 + 0.8 * hash12(cell * 3.7));
                }
            }
        } else if (cell.y >= 0.0 && f.y < 0.1) {
            albedo *= 0.8;  // floor band
        }
    } else if (kind == SHOPFRONT) {
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
    } else if (kind == ROAD) {
        rough = 0.9;
    }
    if (kind == EMISSIVE) {
        emit = albedo * emissive * mix(0.25, 1.0, u_lights_on);
    }

    // weather on surfaces: snow settles on what faces up; water darkens and glosses, pools on flat ground
    float up_facing = smoothstep(0.55, 0.9, n.z);
    float ssr = 0.0;
    if (u_snow > 0.0 && up_facing > 0.0) {
        float drift = value_noise(v_pos.xy * 0.7) * 0.5 + value_noise(v_pos.xy * 3.1) * 0.5;
        float cover = up_facing * smoothstep(0.0, 0.35, u_snow - 0.5 * drift + 0.25);
        albedo = mix(albedo, vec3(0.85, 0.87, 0.9), cover);
        rough = mix(rough, 0.75, cover);
        emit *= 1.0 - cover;
    } else if (u_wetness > 0.0 && kind != EMISSIVE) {
        float w = u_wetness * mix(0.25, 1.0, up_facing);
        albedo *= 1.0 - 0.45 * w;
        rough = mix(rough, 0.12, w);
        if (up_facing > 0.0) {
            ssr = 0.35 * w * up_facing;
            if (u_puddles > 0.0) {
                float pn = value_noise(v_pos.xy * 0.22) * 0.65 + value_noise(v_pos.xy * 0.9) * 0.35;
                float puddle = smoothstep(1.0 - u_puddles, 1.0 - u_puddles + 0.06, pn) * up_facing;
                albedo = mix(albedo, vec3(0.01), puddle);
                rough = mix(rough, 0.02, puddle);
                ssr = mix(ssr, 0.95, puddle);
            }
        }
    }

    // sun and moon
    float ndl = max(dot(n, u_sun_dir), 0.0);
    vec3 light = vec3(0.0);
    vec3 spec = vec3(0.0);
    if (u_sun_E.g > 0.0 && ndl > 0.0) {
        float sh = sun_shadow(v_pos, n);
        light += u_sun_E * ndl * sh;
        spec += specular(n, v, u_sun_dir, u_sun_E, max(rough, 0.08), f0) * sh;
    }
    if (u_moon_E > 0.0) light += vec3(0.75, 0.82, 1.0) * u_moon_E * max(dot(n, u_moon_dir), 0.0);
    // sky and ground bounce; street canyons see less sky near the ground
    if (u_use_ao > -0.5) {  // uniform: the same side for every pixel
        light += ambient_light(v_pos, n) + vec3(u_flash) * (0.5 + 0.5 * n.z);
    } else {
        float canyon = mix(0.7, 1.0, smoothstep(0.0, 12.0, v_pos.z));
        light += mix(u_amb_ground, u_amb_up + vec3(u_flash), 0.5 + 0.5 * n.z) * canyon;
    }
    // lamps
    // lamps, from the irradiance volume (sampled half a cell off the surface)
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
    vec3 radiance = albedo / PI * light + spec + emit;
    if (reflectivity > 0.0) {
        vec3 rdir = reflect(-v, n);
        float fres = f0 + (1.0 - f0) * pow(1.0 - max(dot(n, v), 0.0), 5.0);
        radiance += sky_lookup(rdir) * fres * reflectivity * 0.8;
    }
    f_color = vec4(radiance, ssr);  // alpha: how mirror-like this pixel is (screen-space reflections)
}
