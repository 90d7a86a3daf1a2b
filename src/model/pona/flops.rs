//! Analytic FLOP count of one PoNA forward pass (2 FLOPs per multiply-add of every convolution
//! and attention matrix product).

use super::PonaConfig;

fn conv(cin: usize, cout: usize, k: usize, px: usize) -> f64 {
    2.0 * (cin * cout * k * k) as f64 * px as f64
}

/// FLOPs of one batch-1 forward pass at input size `hw`.
pub fn forward_flops(cfg: &PonaConfig, hw: (usize, usize)) -> f64 {
    let (f, c) = (cfg.ngf, cfg.code_channels());
    let px0 = hw.0 * hw.1;
    let px1 = hw.0.div_ceil(2) * hw.1.div_ceil(2);
    let (h, w) = PonaConfig::code_hw(hw);
    let n = h * w;
    let encoder = |cin: usize| conv(cin, f, 7, px0) + conv(f, 2 * f, 3, px1) + conv(2 * f, c, 3, n);
    let mut total = encoder(cfg.image_nc) + encoder(2 * cfg.pose_nc);
    let non_local = |qk: usize, v: usize| 2.0 * (n * n * qk) as f64 + 2.0 * (v * n * n) as f64;
    let block = 2.0 * 2.0 * conv(c, c, 3, n) // conv, conv2
        + 2.0 * conv(2 * c, 2 * c, 3, n) // dconv
        + conv(2 * c, 2 * c, 3, n) + conv(2 * c, c, 3, n) // dconv2
        + conv(2 * c, 2 * cfg.fusion_qk_channels + 2 * c, 1, n) + non_local(cfg.fusion_qk_channels, 2 * c)
        + conv(c, 2 * cfg.qk_channels + c, 1, n) + non_local(cfg.qk_channels, c);
    total += cfg.n_blocks as f64 * block;
    // Decoder: transposed convs cost k² multiply-adds per input pixel and channel pair.
    total += conv(c, 2 * f, 3, n) + conv(2 * f, f, 3, 4 * n) + conv(f, 3, 7, 16 * n);
    total
}
