// Colours a float field (flow or scalar) over an egui paint-callback rect.
//
// Colours are computed as the CPU twin (`marionette::app::overlay`) computes them, down to the
// 8-bit quantisation, so screenshots, PNG exports and legends agree byte for byte where the maths
// allows. The output is premultiplied alpha in gamma (sRGB-encoded) space, which is what egui's
// own pipeline writes into its preferred non-sRGB framebuffer; `fs_main_linear_framebuffer`
// serves the (rare) sRGB framebuffer exactly as egui's shader of the same name does.

struct Params {
    // The callback rect in physical pixels, unclamped: egui clamps the viewport to the screen,
    // so the field is mapped from these and the fragment position, not from the viewport.
    rect_min_px: vec2<f32>,
    rect_size_px: vec2<f32>,
    // 0 = flow colour wheel, 1 = turbo colormap.
    mode: u32,
    // 1 = bilinear between cell centres, 0 = nearest cell.
    smooth_sampling: u32,
    opacity: f32,
    // Flow normaliser: the reference divides by the largest magnitude + 1e-5.
    max_radius: f32,
    value_min: f32,
    value_max: f32,
    // 1 = colormap alpha scales with t (heat maps fading out where the value is low).
    alpha_from_value: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Rg32Float (flow: Δx, Δy) or R32Float (scalar; .y reads 0). 32-bit floats are not filterable
// without a device feature, hence textureLoad and bilinear by hand. Non-finite values were
// replaced by 0 on upload: shader compilers may assume NaN never happens, so it is not tested here.
@group(1) @binding(0) var field: texture_2d<f32>;

const MODE_FLOW: u32 = 0u;

struct VertexOutput {
    @builtin(position) position: vec4<f32>,
};

// One triangle covering the whole viewport (egui sets it to the callback rect, clipped).
@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOutput {
    let uv = vec2<f32>(f32((index << 1u) & 2u), f32(index & 2u));
    var out: VertexOutput;
    out.position = vec4<f32>(uv * vec2<f32>(2.0, -2.0) + vec2<f32>(-1.0, 1.0), 0.0, 1.0);
    return out;
}

fn load_cell(cell: vec2<i32>) -> vec2<f32> {
    return textureLoad(field, cell, 0).xy;
}

// The field value under a framebuffer position (pixel centre).
fn sample_field(frag_px: vec2<f32>) -> vec2<f32> {
    let dims = vec2<i32>(textureDimensions(field));
    let size = vec2<f32>(dims);
    let uv = (frag_px - params.rect_min_px) / params.rect_size_px;
    let max_cell = dims - vec2<i32>(1);
    if params.smooth_sampling == 0u {
        let cell = clamp(vec2<i32>(floor(uv * size)), vec2<i32>(0), max_cell);
        return load_cell(cell);
    }
    // Cell centres sit at (i + 0.5) / size; outside the outer centres the edge value holds.
    let p = uv * size - vec2<f32>(0.5);
    let p0 = floor(p);
    let f = p - p0;
    let i0 = clamp(vec2<i32>(p0), vec2<i32>(0), max_cell);
    let i1 = clamp(vec2<i32>(p0) + vec2<i32>(1), vec2<i32>(0), max_cell);
    let top = mix(load_cell(i0), load_cell(vec2<i32>(i1.x, i0.y)), f.x);
    let bottom = mix(load_cell(vec2<i32>(i0.x, i1.y)), load_cell(i1), f.x);
    return mix(top, bottom, f.y);
}

// floor(255 * i / n) with integers, as the reference wheel builds its ramps.
fn ramp(i: u32, n: u32) -> f32 {
    return f32((255u * i) / n);
}

// Colour k (0..55) of the Middlebury wheel, 0-255 per channel. Segment lengths
// 15, 6, 4, 11, 13, 6: red→yellow→green→cyan→blue→magenta→red.
fn wheel(k: u32) -> vec3<f32> {
    if k < 15u {
        return vec3<f32>(255.0, ramp(k, 15u), 0.0);
    }
    if k < 21u {
        return vec3<f32>(255.0 - ramp(k - 15u, 6u), 255.0, 0.0);
    }
    if k < 25u {
        return vec3<f32>(0.0, 255.0, ramp(k - 21u, 4u));
    }
    if k < 36u {
        return vec3<f32>(0.0, 255.0 - ramp(k - 25u, 11u), 255.0);
    }
    if k < 49u {
        return vec3<f32>(ramp(k - 36u, 13u), 0.0, 255.0);
    }
    return vec3<f32>(255.0, 0.0, 255.0 - ramp(k - 49u, 6u));
}

const NCOLS: u32 = 55u;
const PI: f32 = 3.14159265358979;

// The reference's flow colour as 8-bit values (0-255, as floats). Channel swap: u = Δy, v = Δx.
fn flow_bytes(flow: vec2<f32>) -> vec3<f32> {
    let norm = max(params.max_radius, 0.0) + 1e-5;
    let u = flow.y / norm;
    let v = flow.x / norm;
    let rad = sqrt(u * u + v * v);
    let a = atan2(-v, -u) / PI;
    let fk = (a + 1.0) / 2.0 * f32(NCOLS - 1u);
    let k0 = min(u32(max(floor(fk), 0.0)), NCOLS - 1u);
    var k1 = k0 + 1u;
    if k1 == NCOLS {
        k1 = 0u;
    }
    let f = fk - f32(k0);
    let col = (1.0 - f) * wheel(k0) / 255.0 + f * wheel(k1) / 255.0;
    var shaded: vec3<f32>;
    if rad <= 1.0 {
        shaded = vec3<f32>(1.0) - rad * (vec3<f32>(1.0) - col);
    } else {
        // Beyond the normaliser the reference darkens instead of saturating.
        shaded = col * 0.75;
    }
    return clamp(floor(255.0 * shaded), vec3<f32>(0.0), vec3<f32>(255.0));
}

// Turbo (Anton Mikhailov, Google 2019) via Ruofei Du's polynomial approximation (Apache-2.0),
// in Horner form; `overlay::turbo` evaluates the same polynomial in the same order.
fn turbo_bytes(t: f32) -> vec3<f32> {
    let x = clamp(t, 0.0, 1.0);
    let r = 0.13572138 + x * (4.61539260 + x * (-42.66032258 + x * (132.13108234 + x * (-152.94239396 + x * 59.28637943))));
    let g = 0.09140261 + x * (2.19418839 + x * (4.84296658 + x * (-14.18503333 + x * (4.27729857 + x * 2.82956604))));
    let b = 0.10667330 + x * (12.64194608 + x * (-60.58204836 + x * (110.36276771 + x * (-89.90310912 + x * 27.34824973))));
    // Round half up (not WGSL's round-half-even) to match the CPU's `(c * 255 + 0.5).floor()`.
    return floor(clamp(vec3<f32>(r, g, b), vec3<f32>(0.0), vec3<f32>(1.0)) * 255.0 + vec3<f32>(0.5));
}

// t in [0, 1] over [min, max]; an empty range is a step at min, as on the CPU.
fn colormap_t(value: f32) -> f32 {
    let range = params.value_max - params.value_min;
    if range > 0.0 {
        return clamp((value - params.value_min) / range, 0.0, 1.0);
    }
    return select(0.0, 1.0, value >= params.value_min);
}

// Straight (not premultiplied) gamma-space colour: rgb 0-1 (already 8-bit quantised), alpha 0-1.
fn overlay_color(frag_px: vec2<f32>) -> vec4<f32> {
    let value = sample_field(frag_px);
    if params.mode == MODE_FLOW {
        return vec4<f32>(flow_bytes(value) / 255.0, params.opacity);
    }
    let t = colormap_t(value.x);
    var alpha = params.opacity;
    if params.alpha_from_value == 1u {
        alpha = alpha * t;
    }
    return vec4<f32>(turbo_bytes(t) / 255.0, alpha);
}

// egui's blend state is (One, OneMinusSrcAlpha) on colour: premultiply here.
@fragment
fn fs_main_gamma_framebuffer(in: VertexOutput) -> @location(0) vec4<f32> {
    let c = overlay_color(in.position.xy);
    return vec4<f32>(c.rgb * c.a, c.a);
}

// 0-1 linear from 0-1 sRGB gamma (egui.wgsl's conversion).
fn linear_from_gamma_rgb(srgb: vec3<f32>) -> vec3<f32> {
    let cutoff = srgb < vec3<f32>(0.04045);
    let lower = srgb / vec3<f32>(12.92);
    let higher = pow((srgb + vec3<f32>(0.055)) / vec3<f32>(1.055), vec3<f32>(2.4));
    return select(higher, lower, cutoff);
}

// For an sRGB framebuffer egui premultiplies in gamma space and then linearises; do the same so
// overlays blend like egui's own shapes there too.
@fragment
fn fs_main_linear_framebuffer(in: VertexOutput) -> @location(0) vec4<f32> {
    let c = overlay_color(in.position.xy);
    return vec4<f32>(linear_from_gamma_rgb(c.rgb * c.a), c.a);
}
