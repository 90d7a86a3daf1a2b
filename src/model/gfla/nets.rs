//! GFLA's three sub-networks (spec §3–§5): the source encoder, the global flow field estimator
//! and the target net with its local-attention decoder.

use super::blocks::{conv3, EncoderBlock, ExtractorAttn, PadConv, ResBlock, ResBlockDecoder};
use super::config::GflaConfig;
use crate::model::layers::ShiftConv;
use crate::model::Tracer;
use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

/// `block0` then `encoder{0..}`: the pyramid shared by the source and target nets.
#[derive(Clone, Debug)]
struct Pyramid {
    blocks: Vec<EncoderBlock>,
}

impl Pyramid {
    fn new(vb: &VarBuilder, input_nc: usize, cfg: &GflaConfig) -> Result<Self> {
        let mut blocks = vec![EncoderBlock::new(vb.pp("block0"), input_nc, cfg.ngf)?];
        for i in 0..cfg.layers - 1 {
            let (cin, cout) = (cfg.ngf * cfg.mult(i), cfg.ngf * cfg.mult(i + 1));
            blocks.push(EncoderBlock::new(vb.pp(format!("encoder{i}")), cin, cout)?);
        }
        Ok(Self { blocks })
    }

    /// All block outputs, shallowest first.
    fn forward(&self, x: &Tensor, tracer: &mut Tracer, prefix: &str) -> Result<Vec<Tensor>> {
        let mut outs: Vec<Tensor> = Vec::with_capacity(self.blocks.len());
        for (i, block) in self.blocks.iter().enumerate() {
            let y = block.forward(outs.last().unwrap_or(x))?;
            tracer.record(|| block_name(prefix, i), &y);
            outs.push(y);
        }
        Ok(outs)
    }
}

fn block_name(prefix: &str, i: usize) -> String {
    if i == 0 {
        format!("inter.{prefix}.block0")
    } else {
        format!("inter.{prefix}.encoder{}", i - 1)
    }
}

/// Source image encoder (`source.*`).
#[derive(Clone, Debug)]
pub struct SourceNet {
    pyramid: Pyramid,
}

/// Source features, deepest first, the image itself last (spec §3). Computed once per photo and
/// reusable for every target pose.
#[derive(Clone, Debug)]
pub struct SourceFeatures(pub Vec<Tensor>);

impl SourceNet {
    pub fn new(vb: VarBuilder, cfg: &GflaConfig) -> Result<Self> {
        Ok(Self {
            pyramid: Pyramid::new(&vb, cfg.image_nc, cfg)?,
        })
    }

    pub fn forward(&self, image: &Tensor, tracer: &mut Tracer) -> Result<SourceFeatures> {
        let mut feats = self.pyramid.forward(image, tracer, "source")?;
        feats.reverse();
        feats.push(image.clone());
        Ok(SourceFeatures(feats))
    }
}

/// One flow-net decoder step: up-sample, add the skip, maybe predict (flow, mask).
#[derive(Clone, Debug)]
struct FlowStep {
    decoder: ResBlockDecoder,
    jump: PadConv,
    /// `(output{i}, mask{i}.0)` when this step's level carries attention.
    heads: Option<(ShiftConv, ShiftConv)>,
}

/// Global flow field estimator (`flow_net.*`).
#[derive(Clone, Debug)]
pub struct FlowNet {
    encoders: Vec<EncoderBlock>,
    steps: Vec<FlowStep>,
}

impl FlowNet {
    pub fn new(vb: VarBuilder, cfg: &GflaConfig) -> Result<Self> {
        let e = cfg.flow_layers;
        let w = |j: usize| cfg.flow_width(j);
        // The puppet prior's input-resolution flow joins the input (see `super::prior`).
        let prior_nc = if cfg.puppet_prior { 2 } else { 0 };
        let mut encoders = vec![EncoderBlock::new(
            vb.pp("block0"),
            cfg.image_nc + 2 * cfg.structure_nc + prior_nc,
            w(0),
        )?];
        for j in 1..e {
            encoders.push(EncoderBlock::new(
                vb.pp(format!("encoder{}", j - 1)),
                w(j - 1),
                w(j),
            )?);
        }
        let min_level = cfg.attn_layer.iter().copied().min().unwrap_or(e);
        let mut steps = Vec::new();
        for i in 0..e.saturating_sub(min_level) {
            let (cin, cout) = (w(e - 1 - i), w(e - 2 - i));
            let heads = if cfg.attn_layer.contains(&(e - 1 - i)) {
                Some((
                    conv3(vb.pp(format!("output{i}")), cout, 2)?,
                    conv3(vb.pp(format!("mask{i}")).pp("0"), cout, 1)?,
                ))
            } else {
                None
            };
            steps.push(FlowStep {
                decoder: ResBlockDecoder::new(vb.pp(format!("decoder{i}")), cin, cout, cout)?,
                jump: PadConv::new(vb.pp(format!("jump{i}")), cout, cout)?,
                heads,
            });
        }
        Ok(Self { encoders, steps })
    }

    /// Flows and masks, deepest level first. Flow channel 0 is Δx, channel 1 is Δy, in pixels of
    /// the feature map of that level. With a `prior` ([`super::prior::puppet_prior`]: one flow
    /// per attention level, deepest first, then the input-resolution flow) the last joins the
    /// input and each level's flow is its prior plus the flow head's output.
    pub fn forward(
        &self,
        image: &Tensor,
        source_pose: &Tensor,
        target_pose: &Tensor,
        prior: Option<&[Tensor]>,
        tracer: &mut Tracer,
    ) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        let mut skips: Vec<Tensor> = Vec::with_capacity(self.encoders.len());
        let input = match prior {
            Some(p) => {
                let heads = self.steps.iter().filter(|s| s.heads.is_some()).count();
                if p.len() != heads + 1 {
                    candle_core::bail!("puppet prior of {} flows for {heads} levels", p.len());
                }
                let full = p[heads].affine(super::prior::INPUT_SCALE, 0.0)?;
                Tensor::cat(&[image, source_pose, target_pose, &full], 1)?
            }
            None => Tensor::cat(&[image, source_pose, target_pose], 1)?,
        };
        for (i, block) in self.encoders.iter().enumerate() {
            let y = block.forward(skips.last().unwrap_or(&input))?;
            tracer.record(|| block_name("flow_net", i), &y);
            skips.push(y);
        }
        let mut x = skips.pop().expect("at least one encoder");
        let (mut flows, mut masks) = (Vec::new(), Vec::new());
        for (i, step) in self.steps.iter().enumerate() {
            let up = step.decoder.forward(&x)?;
            let skip = skips.pop().expect("one skip per decoder step");
            let jump = step.jump.forward(&skip)?;
            tracer.record(|| format!("inter.flow_net.decoder{i}"), &up);
            tracer.record(|| format!("inter.flow_net.jump{i}"), &jump);
            x = (up + jump)?;
            if let Some((flow_head, mask_head)) = &step.heads {
                let head = flow_head.forward(&x)?;
                flows.push(match prior {
                    // One prior flow per head: checked where the input is built.
                    Some(p) => (head + &p[flows.len()])?,
                    None => head,
                });
                masks.push(candle_nn::ops::sigmoid(&mask_head.forward(&x)?)?);
            }
        }
        Ok((flows, masks))
    }
}

/// One target decoder step: optional local attention, ResBlocks, up-sampling.
#[derive(Clone, Debug)]
struct TargetStep {
    attn: Option<ExtractorAttn>,
    res_blocks: Vec<ResBlock>,
    up: ResBlockDecoder,
}

/// Per-level explanation of the attention step (what the app's overlays draw).
#[derive(Clone, Debug)]
pub struct AttentionTap {
    pub level: usize,
    pub kernel: usize,
    /// (B, k², h, w) softmax coefficients.
    pub attention: Tensor,
}

/// Pose encoder + attention decoder (`target.*`).
#[derive(Clone, Debug)]
pub struct TargetNet {
    pyramid: Pyramid,
    steps: Vec<TargetStep>,
    outconv: PadConv,
    layers: usize,
}

impl TargetNet {
    pub fn new(vb: VarBuilder, cfg: &GflaConfig) -> Result<Self> {
        let l = cfg.layers;
        let cap = cfg.img_f / cfg.ngf;
        let a = |i: usize| (1usize << (l - 1 - i)).min(cap);
        let b = |i: usize| {
            if i + 1 < l {
                (1usize << (l - 2 - i)).min(cap)
            } else {
                1
            }
        };
        let mut steps = Vec::new();
        for i in 0..l {
            let c = cfg.ngf * a(i);
            let attn = if cfg.attn_layer.contains(&(l - i)) {
                let k = cfg.kernel(l - i);
                Some(ExtractorAttn::new(
                    vb.pp(format!("attn{i}")),
                    c,
                    k,
                    cfg.attn_hidden,
                )?)
            } else {
                None
            };
            let dec = vb.pp(format!("decoder{i}"));
            let res_blocks = (0..cfg.num_blocks - 1)
                .map(|j| ResBlock::new(dec.pp("0").pp("model").pp(j.to_string()), c))
                .collect::<Result<Vec<_>>>()?;
            let up = ResBlockDecoder::new(dec.pp("1"), c, cfg.ngf * b(i), c)?;
            steps.push(TargetStep {
                attn,
                res_blocks,
                up,
            });
        }
        Ok(Self {
            pyramid: Pyramid::new(&vb, cfg.structure_nc, cfg)?,
            steps,
            outconv: PadConv::new(vb.pp("outconv"), cfg.ngf, cfg.output_nc)?,
            layers: l,
        })
    }

    /// The generated image (tanh, in (−1, 1)) and the attention coefficients per level.
    pub fn forward(
        &self,
        target_pose: &Tensor,
        source: &SourceFeatures,
        flows: &[Tensor],
        masks: &[Tensor],
        tracer: &mut Tracer,
    ) -> Result<(Tensor, Vec<AttentionTap>)> {
        let mut x = self
            .pyramid
            .forward(target_pose, tracer, "target")?
            .pop()
            .expect("at least block0");
        let mut taps = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            if let Some(attn) = &step.attn {
                let c = taps.len();
                let (flow, mask) = match (flows.get(c), masks.get(c)) {
                    (Some(f), Some(m)) => (f, m),
                    _ => candle_core::bail!("target net: no flow/mask for attention step {c}"),
                };
                let out = attn.forward(&source.0[i], &x, flow)?;
                tracer.record(|| format!("attn.{c}.out_attn"), &out.features);
                tracer.record(|| format!("hook.source.{c}"), &source.0[i]);
                tracer.record(|| format!("hook.attn.{c}"), &out.attention);
                tracer.record(|| format!("hook.mask.{c}"), mask);
                // x·(1 − m) + a·m, the mask broadcast over channels.
                let keep = mask.affine(-1.0, 1.0)?;
                x = (x.broadcast_mul(&keep)? + out.features.broadcast_mul(mask)?)?;
                tracer.record(|| format!("hook.target.{c}"), &x);
                taps.push(AttentionTap {
                    level: self.layers - i,
                    kernel: attn.kernel_size(),
                    attention: out.attention,
                });
            }
            for block in &step.res_blocks {
                x = block.forward(&x)?;
            }
            x = step.up.forward(&x)?;
            tracer.record(|| format!("inter.target.decoder{i}"), &x);
        }
        Ok((self.outconv.forward(&x)?.tanh()?, taps))
    }
}
