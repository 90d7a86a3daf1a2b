//! PoNA — "Pose-guided Non-local Attention for Human Pose Transfer" (Li et al., TIP 2020).
//!
//! [`Pona`] = image encoder + pose encoder + cascaded PoNA blocks + decoder, with parameter names
//! equal to the authors' `PoNANetwork` state dict (spec: `../shared/spec/pona.md`).

mod config;
pub mod flops;
pub mod weights;

pub use config::{HeatmapKind, PonaConfig, PonaNorm};

use crate::model::layers::{
    Activation, BatchNormEval, InstanceNorm, ShiftConv, StrideConv, UpConv,
};
use crate::model::Tracer;
use candle_core::{Result, Tensor, D};
use candle_nn::{Module, VarBuilder};

/// The encoder/decoder norm chosen by `--norm`.
#[derive(Clone, Debug)]
enum Norm {
    Batch(BatchNormEval),
    Instance(InstanceNorm),
}

impl Norm {
    fn new(vb: VarBuilder, cfg: &PonaConfig, channels: usize) -> Result<Self> {
        Ok(match cfg.norm {
            PonaNorm::Batch => Norm::Batch(BatchNormEval::new(vb, channels)?),
            PonaNorm::Instance => Norm::Instance(InstanceNorm::plain()),
        })
    }

    /// `relu(norm(x))`, the only way PoNA uses its norms.
    fn forward_relu(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Norm::Batch(n) => n.forward(x)?.relu(),
            Norm::Instance(n) => n.forward_act(x, Activation::Relu),
        }
    }
}

/// `reflect-pad 3 → conv7 → norm → ReLU → (conv3/s2 → norm → ReLU) × 2` (`stream{1,2}_down`).
#[derive(Clone, Debug)]
struct Encoder {
    conv1: ShiftConv,
    norm2: Norm,
    conv4: StrideConv,
    norm5: Norm,
    conv7: StrideConv,
    norm8: Norm,
}

fn conv_down(vb: VarBuilder, cin: usize, cout: usize, bias: bool) -> Result<StrideConv> {
    StrideConv::with_bias(vb, cin, cout, 3, 1, bias)
}

impl Encoder {
    fn new(vb: VarBuilder, cin: usize, cfg: &PonaConfig) -> Result<Self> {
        let (f, bias) = (cfg.ngf, cfg.conv_bias());
        Ok(Self {
            conv1: ShiftConv::with_bias(vb.pp("1"), cin, f, 7, 0, bias)?,
            norm2: Norm::new(vb.pp("2"), cfg, f)?,
            conv4: conv_down(vb.pp("4"), f, 2 * f, bias)?,
            norm5: Norm::new(vb.pp("5"), cfg, 2 * f)?,
            conv7: conv_down(vb.pp("7"), 2 * f, 4 * f, bias)?,
            norm8: Norm::new(vb.pp("8"), cfg, 4 * f)?,
        })
    }
}

impl Module for Encoder {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self
            .norm2
            .forward_relu(&self.conv1.forward_reflect(x, 3)?)?;
        let x = self.norm5.forward_relu(&self.conv4.forward(&x)?)?;
        self.norm8.forward_relu(&self.conv7.forward(&x)?)
    }
}

/// `double_conv`: `conv3 → IN → ReLU → (dropout: index 3, identity in eval) → conv3 → IN →
/// ReLU`. The residual additions of `conv`, `conv2` and `dconv` are made by the block.
#[derive(Clone, Debug)]
struct DoubleConv {
    conv0: ShiftConv,
    conv4: ShiftConv,
}

impl DoubleConv {
    fn new(vb: VarBuilder, cin: usize, cout: usize) -> Result<Self> {
        let vb = vb.pp("conv");
        Ok(Self {
            conv0: ShiftConv::new(vb.pp("0"), cin, cin, 3, 1)?,
            conv4: ShiftConv::new(vb.pp("4"), cin, cout, 3, 1)?,
        })
    }
}

impl Module for DoubleConv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let norm = InstanceNorm::plain();
        let y = norm.forward_act(&self.conv0.forward(x)?, Activation::Relu)?;
        norm.forward_act(&self.conv4.forward(&y)?, Activation::Relu)
    }
}

/// A 1×1 conv applied to flattened maps (B, cin, N) → (B, cout, N).
#[derive(Clone, Debug)]
struct Conv1x1 {
    weight: Tensor,
    bias: Tensor,
}

impl Conv1x1 {
    fn new(vb: VarBuilder, cin: usize, cout: usize) -> Result<Self> {
        Ok(Self {
            weight: vb.get((cout, cin, 1, 1), "weight")?.reshape((cout, cin))?,
            bias: vb.get(cout, "bias")?.reshape((cout, 1))?,
        })
    }
}

impl Module for Conv1x1 {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let _p = crate::ops::profile::scope("conv");
        self.weight.broadcast_matmul(x)?.broadcast_add(&self.bias)
    }
}

/// Non-local attention: `A = softmax_j(Σ_c q[c,i] k[c,j])` (no scaling) and `O = v·Aᵀ`.
/// `q`, `k`: (B, c, N); `v`: (B, C, N). Returns (O, A).
fn non_local(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
    use crate::ops::profile::scope;
    let energy = {
        let _p = scope("matmul");
        q.transpose(1, 2)?.contiguous()?.matmul(&k.contiguous()?)?
    };
    let attn = {
        let _p = scope("softmax");
        // The vectorised row kernel has no backward: only when no gradient is tracked.
        if energy.track_op() || !energy.device().is_cpu() {
            candle_nn::ops::softmax(&energy, D::Minus1)?
        } else {
            crate::ops::softmax::softmax_last_dim(&energy)?
        }
    };
    let _p = scope("matmul");
    let out = v.contiguous()?.matmul(&attn.transpose(1, 2)?)?;
    Ok((out, attn))
}

/// The fusion self-attention `att2` over the concatenated image and pose codes.
#[derive(Clone, Debug)]
struct FusionAttn {
    query: Conv1x1,
    key: Conv1x1,
    value: Conv1x1,
    gamma: Tensor,
    beta: Tensor,
}

/// One PoNA block (`model.att.{b}`).
#[derive(Clone, Debug)]
struct PonaBlock {
    gamma: Tensor,
    query: Conv1x1,
    key: Conv1x1,
    value: Conv1x1,
    conv: DoubleConv,
    conv2: DoubleConv,
    dconv: DoubleConv,
    dconv2: DoubleConv,
    att2: FusionAttn,
}

impl PonaBlock {
    fn new(vb: VarBuilder, cfg: &PonaConfig) -> Result<Self> {
        let c = cfg.code_channels();
        let a2 = vb.pp("att2");
        Ok(Self {
            gamma: vb.get(1, "gamma")?,
            query: Conv1x1::new(vb.pp("query_conv"), c, cfg.qk_channels)?,
            key: Conv1x1::new(vb.pp("key_conv"), c, cfg.qk_channels)?,
            value: Conv1x1::new(vb.pp("value_conv"), c, c)?,
            conv: DoubleConv::new(vb.pp("conv"), c, c)?,
            dconv: DoubleConv::new(vb.pp("dconv"), 2 * c, 2 * c)?,
            conv2: DoubleConv::new(vb.pp("conv2"), c, c)?,
            dconv2: DoubleConv::new(vb.pp("dconv2"), 2 * c, c)?,
            att2: FusionAttn {
                gamma: a2.get(1, "gamma")?,
                beta: a2.get(1, "beta")?,
                query: Conv1x1::new(a2.pp("query_conv"), 2 * c, cfg.fusion_qk_channels)?,
                key: Conv1x1::new(a2.pp("key_conv"), 2 * c, cfg.fusion_qk_channels)?,
                value: Conv1x1::new(a2.pp("value_conv"), 2 * c, 2 * c)?,
            },
        })
    }

    /// (image code, pose code) → (image code, PoNA attention (B, N, N), pose code); spec §6.3.
    fn forward(
        &self,
        x: &Tensor,
        p: &Tensor,
        k: usize,
        tracer: &mut Tracer,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let (b, c, h, w) = x.dims4()?;
        let n = h * w;
        let flat = |t: &Tensor| -> Result<Tensor> {
            let ch = t.dim(1)?;
            t.reshape((b, ch, n))
        };
        let grid = |t: &Tensor| -> Result<Tensor> {
            let ch = t.dim(1)?;
            t.reshape((b, ch, h, w))
        };
        // 1–2. Fusion of image and pose codes, refined by self-attention: γ₂·O + β₂·Z + Z.
        let z = Tensor::cat(&[x, p], 1)?;
        let zf = flat(&z)?;
        let a = &self.att2;
        let (o, fusion_attn) = non_local(
            &a.query.forward(&zf)?,
            &a.key.forward(&zf)?,
            &a.value.forward(&zf)?,
        )?;
        let z1 = (o.broadcast_mul(&a.gamma)? + zf.broadcast_mul(&a.beta)? + &zf)?;
        let z1 = grid(&z1)?;
        tracer.record(|| format!("block{k}.fusion_attn"), &fusion_attn);
        tracer.record(|| format!("block{k}.fusion_out"), &z1);
        // 3. Pose refinement, part 1.
        let z2 = (&z1 + self.dconv.forward(&z1)?)?;
        tracer.record(|| format!("block{k}.fusion_refined"), &z2);
        // 4. Image pathway (does not see the pose).
        let x1 = (x + self.conv.forward(x)?)?;
        let x2 = (&x1 + self.conv2.forward(&x1)?)?;
        tracer.record(|| format!("block{k}.image_feat1"), &x1);
        tracer.record(|| format!("block{k}.image_feat"), &x2);
        // 5. The new pose code.
        let p1 = self.dconv2.forward(&z2)?;
        tracer.record(|| format!("block{k}.pose_code"), &p1);
        // 6–7. Pose-guided attention: Q, K from the new pose code, V from the image features.
        let pf = flat(&p1)?;
        let (q, key, v) = (
            self.query.forward(&pf)?,
            self.key.forward(&pf)?,
            self.value.forward(&flat(&x2)?)?,
        );
        tracer.record(|| format!("block{k}.query"), &grid(&q)?);
        tracer.record(|| format!("block{k}.key"), &grid(&key)?);
        tracer.record(|| format!("block{k}.value"), &grid(&v)?);
        let (o, attn) = non_local(&q, &key, &v)?;
        let x_out = (grid(&o)?.broadcast_mul(&self.gamma.reshape((1, 1, 1, 1))?)? + &x2)?;
        tracer.record(|| format!("block{k}.attn"), &attn);
        tracer.record(|| format!("block{k}.image_code"), &x_out);
        debug_assert_eq!(x_out.dim(1)?, c);
        Ok((x_out, attn, p1))
    }
}

/// `(convT → norm → ReLU) × 2 → reflect-pad 3 → conv7 → tanh` (`stream1_up`).
#[derive(Clone, Debug)]
struct Decoder {
    up0: UpConv,
    norm1: Norm,
    up3: UpConv,
    norm4: Norm,
    conv7: ShiftConv,
}

impl Decoder {
    fn new(vb: VarBuilder, cfg: &PonaConfig) -> Result<Self> {
        let (f, bias) = (cfg.ngf, cfg.conv_bias());
        Ok(Self {
            up0: UpConv::with_bias(vb.pp("0"), 4 * f, 2 * f, bias)?,
            norm1: Norm::new(vb.pp("1"), cfg, 2 * f)?,
            up3: UpConv::with_bias(vb.pp("3"), 2 * f, f, bias)?,
            norm4: Norm::new(vb.pp("4"), cfg, f)?,
            conv7: ShiftConv::new(vb.pp("7"), f, 3, 7, 0)?,
        })
    }

    fn forward(&self, x: &Tensor, tracer: &mut Tracer) -> Result<Tensor> {
        let x = self.norm1.forward_relu(&self.up0.forward(x)?)?;
        tracer.record(|| "dec.up1".into(), &x);
        let x = self.norm4.forward_relu(&self.up3.forward(&x)?)?;
        tracer.record(|| "dec.up2".into(), &x);
        let x = self.conv7.forward_reflect(&x, 3)?;
        tracer.record(|| "dec.pre_tanh".into(), &x);
        x.tanh()
    }
}

/// Heat-maps `(B, 18, H, W)` of poses in the model's input frame, the way this configuration
/// was trained: σ = 6 Gaussians (Market) or one-hot pixels (DeepFashion), keypoints truncated to
/// integers with no rescaling.
pub fn encode_poses(
    poses: &[crate::pose::Pose],
    cfg: &PonaConfig,
    device: &candle_core::Device,
) -> Result<Tensor> {
    let bump = match cfg.heatmap {
        HeatmapKind::Gaussian => crate::pose::Bump::Gaussian,
        HeatmapKind::OneHot => crate::pose::Bump::OneHot,
    };
    crate::pose::heatmap_tensor_unscaled(poses, cfg.input_hw, bump, device)
}

/// The PoNA generator.
#[derive(Clone, Debug)]
pub struct Pona {
    cfg: PonaConfig,
    image_encoder: Encoder,
    pose_encoder: Encoder,
    blocks: Vec<PonaBlock>,
    decoder: Decoder,
}

/// What one forward pass produces.
#[derive(Clone, Debug)]
pub struct PonaOutput {
    /// (B, 3, 4h, 4w) in (−1, 1).
    pub image: Tensor,
    /// Per block, the pose-guided attention (B, N, N): row i (output cell) over source cells j.
    pub attention: Vec<Tensor>,
    /// The code grid (h, w); cell n is (n / w, n % w).
    pub grid_hw: (usize, usize),
}

impl Pona {
    pub fn new(vb: VarBuilder, cfg: &PonaConfig) -> Result<Self> {
        cfg.validate().map_err(candle_core::Error::msg)?;
        let vb = vb.pp("model");
        Ok(Self {
            cfg: cfg.clone(),
            image_encoder: Encoder::new(vb.pp("stream1_down"), cfg.image_nc, cfg)?,
            pose_encoder: Encoder::new(vb.pp("stream2_down"), 2 * cfg.pose_nc, cfg)?,
            blocks: (0..cfg.n_blocks)
                .map(|b| PonaBlock::new(vb.pp("att").pp(b.to_string()), cfg))
                .collect::<Result<_>>()?,
            decoder: Decoder::new(vb.pp("stream1_up"), cfg)?,
        })
    }

    pub fn config(&self) -> &PonaConfig {
        &self.cfg
    }

    /// The same weights under another config of the same architecture (e.g. another input
    /// size); the caller has validated it.
    pub fn with_config(mut self, cfg: PonaConfig) -> Self {
        self.cfg = cfg;
        self
    }

    /// `image` (B, 3, H, W) in [−1, 1]; `source_pose`, `target_pose` (B, 18, H, W) heat-maps.
    pub fn forward(
        &self,
        image: &Tensor,
        source_pose: &Tensor,
        target_pose: &Tensor,
    ) -> Result<PonaOutput> {
        self.forward_traced(image, source_pose, target_pose, &mut Tracer::off())
    }

    pub fn forward_traced(
        &self,
        image: &Tensor,
        source_pose: &Tensor,
        target_pose: &Tensor,
        tracer: &mut Tracer,
    ) -> Result<PonaOutput> {
        let (b, c, h, w) = image.dims4()?;
        for (name, p) in [("source", source_pose), ("target", target_pose)] {
            if c != self.cfg.image_nc || p.dims() != [b, self.cfg.pose_nc, h, w] {
                candle_core::bail!(
                    "PoNA needs an image (B, {}, H, W) and {name} pose (B, {}, H, W); got {:?} and {:?}",
                    self.cfg.image_nc,
                    self.cfg.pose_nc,
                    image.shape(),
                    p.shape()
                );
            }
        }
        // Condition pose first, then target: the order the pose encoder was trained with.
        let pose = Tensor::cat(&[source_pose, target_pose], 1)?;
        let mut x = self.image_encoder.forward(image)?;
        let mut p = self.pose_encoder.forward(&pose)?;
        tracer.record(|| "enc.image_code".into(), &x);
        tracer.record(|| "enc.pose_code".into(), &p);
        let grid_hw = (x.dim(2)?, x.dim(3)?);
        let mut attention = Vec::with_capacity(self.blocks.len());
        for (k, block) in self.blocks.iter().enumerate() {
            let (x1, attn, p1) = block.forward(&x, &p, k, tracer)?;
            (x, p) = (x1, p1);
            attention.push(attn);
        }
        let image = self.decoder.forward(&x, tracer)?;
        Ok(PonaOutput {
            image,
            attention,
            grid_hw,
        })
    }
}
