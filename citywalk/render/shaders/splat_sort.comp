#version 430
// Stable LSD radix sort of 16-bit depth keys (4 passes of 4 bits), the GPU twin of
// splat_gl.sort_back_to_front (NumPy's stable argsort): ascending key, ties kept in input order.
// One source, four kernels chosen by a #define from splat_sort_gl.GpuKeySort:
//   SORT_HIST    per 256-key block, how many keys hold each digit → hist[digit * blocks + block]
//   SORT_SCAN    one workgroup: exclusive prefix sum over hist (digit-major: digit 0's blocks first)
//   SORT_SCATTER each key to hist[digit, block] + its rank among earlier same-digit keys of its block
//   SORT_GATHER  order[i] = ids[perm[i]], fade[i] = fade_in[perm[i]] (what the splat pass reads)

#define BLOCK 256u
#define RADIX 16u

uniform uint u_n;        // keys to sort
uniform uint u_shift;    // digit = (key >> u_shift) & 15
uniform uint u_blocks;   // ceil(u_n / BLOCK)
uniform uint u_iota;     // 1: the values are the input positions (first pass), not read

#if defined(SORT_HIST)
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer KeysIn { uint keys_in[]; };
layout(std430, binding = 4) writeonly buffer Hist { uint hist[]; };
shared uint counts[RADIX];
void main() {
    uint lid = gl_LocalInvocationID.x, i = gl_GlobalInvocationID.x;
    if (lid < RADIX) counts[lid] = 0u;
    barrier();
    if (i < u_n) atomicAdd(counts[(keys_in[i] >> u_shift) & 15u], 1u);
    barrier();
    if (lid < RADIX) hist[lid * u_blocks + gl_WorkGroupID.x] = counts[lid];
}

#elif defined(SORT_SCAN)
layout(local_size_x = 1024) in;
layout(std430, binding = 4) buffer Hist { uint hist[]; };
shared uint sums[1024];
void main() {
    uint lid = gl_LocalInvocationID.x;
    uint total = RADIX * u_blocks;
    uint chunk = (total + 1023u) / 1024u;
    uint first = lid * chunk, last = min(first + chunk, total);
    uint s = 0u;
    for (uint j = first; j < last; ++j) s += hist[j];
    sums[lid] = s;
    barrier();
    for (uint off = 1u; off < 1024u; off <<= 1) {  // inclusive Hillis-Steele scan of the chunk sums
        uint v = sums[lid];
        if (lid >= off) v += sums[lid - off];
        barrier();
        sums[lid] = v;
        barrier();
    }
    uint running = sums[lid] - s;  // exclusive: everything in earlier chunks
    for (uint j = first; j < last; ++j) {
        uint v = hist[j];
        hist[j] = running;
        running += v;
    }
}

#elif defined(SORT_SCATTER)
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer KeysIn { uint keys_in[]; };
layout(std430, binding = 1) readonly buffer ValsIn { uint vals_in[]; };
layout(std430, binding = 2) writeonly buffer KeysOut { uint keys_out[]; };
layout(std430, binding = 3) writeonly buffer ValsOut { uint vals_out[]; };
layout(std430, binding = 4) readonly buffer Hist { uint hist[]; };
// Per thread, 16 digit counters of 8 bits packed in a uvec4 (byte d & 3 of component d >> 2).
// Thread t starts with the one-hot digit of key t - 1, so the inclusive scan gives each key the
// count of earlier same-digit keys in its block (≤ 255: no byte overflows).
shared uvec4 ranks[BLOCK];
uvec4 one_hot(uint d) {
    uvec4 v = uvec4(0u);
    v[d >> 2] = 1u << (8u * (d & 3u));
    return v;
}
void main() {
    uint lid = gl_LocalInvocationID.x, i = gl_GlobalInvocationID.x;
    uint key = i < u_n ? keys_in[i] : 0u;
    uint d = (key >> u_shift) & 15u;
    ranks[lid] = (lid > 0u && i - 1u < u_n) ? one_hot((keys_in[i - 1u] >> u_shift) & 15u) : uvec4(0u);
    barrier();
    for (uint off = 1u; off < BLOCK; off <<= 1) {
        uvec4 v = ranks[lid];
        if (lid >= off) v += ranks[lid - off];
        barrier();
        ranks[lid] = v;
        barrier();
    }
    if (i < u_n) {
        uint rank = (ranks[lid][d >> 2] >> (8u * (d & 3u))) & 255u;
        uint dest = hist[d * u_blocks + gl_WorkGroupID.x] + rank;
        keys_out[dest] = key;
        vals_out[dest] = u_iota != 0u ? i : vals_in[i];
    }
}

#elif defined(SORT_GATHER)
layout(local_size_x = 256) in;
layout(std430, binding = 1) readonly buffer Perm { uint perm[]; };
layout(std430, binding = 5) readonly buffer Ids { uint ids[]; };
layout(std430, binding = 6) readonly buffer FadeIn { float fade_in[]; };
layout(std430, binding = 7) writeonly buffer Order { uint order[]; };
layout(std430, binding = 8) writeonly buffer FadeOut { float fade_out[]; };
uniform uint u_with_fade;
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= u_n) return;
    uint p = perm[i];
    order[i] = ids[p];
    if (u_with_fade != 0u) fade_out[i] = fade_in[p];
}
#endif
