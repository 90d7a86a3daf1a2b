//! Analytic FLOP count of one GFLA forward pass (2 FLOPs per multiply-add of every convolution,
//! plus the attention ops), following the same architecture walk as the model code.

use super::GflaConfig;

/// FLOPs of one batch-1 forward pass, per sub-network.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Flops {
    pub source: f64,
    pub flow_net: f64,
    pub target: f64,
}

impl Flops {
    pub fn total(&self) -> f64 {
        self.source + self.flow_net + self.target
    }
}

/// 2 · (multiply-adds) of a convolution producing `out_px` pixels.
fn conv(cin: usize, cout: usize, k: usize, out_px: usize) -> f64 {
    2.0 * (cin * cout * k * k) as f64 * out_px as f64
}

/// Encoder block at input size `px` pixels (output has px/4).
fn encoder_block(cin: usize, cout: usize, px: usize) -> f64 {
    conv(cin, cout, 4, px / 4) + conv(cout, cout, 3, px / 4)
}

/// ResBlockDecoder at input size `px` pixels: conv, transposed conv and shortcut transposed conv
/// (a transposed conv costs k² multiply-adds per input pixel and channel pair).
fn res_block_decoder(cin: usize, cout: usize, hidden: usize, px: usize) -> f64 {
    conv(cin, hidden, 3, px) + conv(hidden, cout, 3, px) + conv(cin, cout, 3, px)
}

pub fn forward_flops(cfg: &GflaConfig, hw: (usize, usize)) -> Flops {
    let px0 = hw.0 * hw.1;
    let at = |level: usize| px0 >> (2 * level); // pixels at H/2^level
    let mut f = Flops::default();

    let pyramid = |input_nc: usize| {
        let mut total = encoder_block(input_nc, cfg.ngf, px0);
        for i in 0..cfg.layers - 1 {
            total += encoder_block(cfg.ngf * cfg.mult(i), cfg.ngf * cfg.mult(i + 1), at(i + 1));
        }
        total
    };
    f.source = pyramid(cfg.image_nc);

    let e = cfg.flow_layers;
    let w = |j: usize| cfg.flow_width(j);
    f.flow_net = encoder_block(cfg.image_nc + 2 * cfg.structure_nc, w(0), px0);
    for j in 1..e {
        f.flow_net += encoder_block(w(j - 1), w(j), at(j));
    }
    let min_level = cfg.attn_layer.iter().copied().min().unwrap_or(e);
    for i in 0..e.saturating_sub(min_level) {
        let (cin, cout) = (w(e - 1 - i), w(e - 2 - i));
        let level = e - 1 - i;
        f.flow_net += res_block_decoder(cin, cout, cout, at(level + 1));
        f.flow_net += conv(cout, cout, 3, at(level)); // jump
        if cfg.attn_layer.contains(&level) {
            f.flow_net += conv(cout, 3, 3, at(level)); // flow (2) + mask (1) heads
        }
    }

    let l = cfg.layers;
    let cap = cfg.img_f / cfg.ngf;
    f.target = pyramid(cfg.structure_nc);
    for i in 0..l {
        let c = cfg.ngf * (1usize << (l - 1 - i)).min(cap);
        let cout = if i + 1 < l {
            cfg.ngf * (1usize << (l - 2 - i)).min(cap)
        } else {
            cfg.ngf
        };
        let px = at(l - i);
        if cfg.attn_layer.contains(&(l - i)) {
            let k = cfg.kernel(l - i);
            f.target += conv(2 * c, cfg.attn_hidden, k, px) + conv(cfg.attn_hidden, k * k, 1, px);
            // Two block extractions (4 taps each) and the weighted pool.
            f.target += (2.0 * 8.0 + 2.0) * (c * k * k * px) as f64;
        }
        f.target += (cfg.num_blocks - 1) as f64 * 2.0 * conv(c, c, 3, px);
        f.target += res_block_decoder(c, cout, c, px);
    }
    f.target += conv(cfg.ngf, cfg.output_nc, 3, px0);
    f
}
