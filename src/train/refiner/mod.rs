//! Training the refiner ([`crate::model::refiner`]) on the compositor's own output: each sample
//! is a synthetic scene re-posed by the real default compositor (plate, ownership, fills: the
//! code every edit runs), seen in the refiner's working crop, next to the true target frame.
//! Nothing in the compositor needs to be differentiable: the loss is on the refiner's output.
//!
//! Samples are drawn once into an in-memory pool (rendering a scene and its PatchMatch plate
//! costs far more than a training step of this small network) and batches are drawn from it;
//! seeds stay below [`super::data::PREVIEW_SEEDS`], validation uses the preview range, and
//! `eval` the held-out range, so no evaluated scene is trained on.

use super::adam::{Adam, AdamParams};
use super::params::Params;
use crate::composite::pipeline::{composite_edit, Edit, Method};
use crate::composite::plate_layers;
use crate::composite::refine::{batch_input, working_view, WorkingView};
use crate::model::refiner::{Refiner, RefinerConfig};
use crate::puppet::PuppetConfig;
use crate::synth::{render_scene_look, Look, SynthConfig};
use crate::util::rng::SplitMix64;
use crate::weights::StateDict;
use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use image::RgbImage;
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

mod pool;
pub use pool::{Pool, POOL_CHUNK};

/// A refiner run's recipe.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RefinerTrainConfig {
    pub model: RefinerConfig,
    pub seed: u64,
    /// Scenes rendered into the pool.
    pub pool: usize,
    pub batch_size: usize,
    pub steps: usize,
    pub adam: AdamParams,
    /// Start from these weights (a fresh optimiser) instead of a random initialisation.
    #[serde(default)]
    pub init: Option<PathBuf>,
    /// Scenes (from the preview range) scored every `validate_every` steps.
    pub validation: usize,
    pub validate_every: usize,
    pub checkpoint_every: usize,
    /// How the pool's and validation's scenes are dressed (photo textures or drawn only).
    #[serde(default)]
    pub look: Look,
}

impl Default for RefinerTrainConfig {
    fn default() -> Self {
        Self {
            model: RefinerConfig::default(),
            seed: 1,
            pool: 1200,
            batch_size: 8,
            steps: 3000,
            adam: AdamParams {
                lr: 5e-4,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            init: None,
            validation: 48,
            validate_every: 250,
            checkpoint_every: 100,
            look: Look::Photo,
        }
    }
}

/// One training scene in the working crop: the compositor's view and the truth.
#[derive(Clone, Debug)]
pub struct Sample {
    pub view: WorkingView,
    pub truth: RgbImage,
}

/// The default compositor's edit of synthetic scene `seed` dressed in `look` (rendered at the
/// working size), as the refiner sees it.
pub fn make_sample(seed: u64, hw: (usize, usize), look: Look) -> Result<Sample> {
    let scene = render_scene_look(
        seed,
        &SynthConfig {
            height: hw.0,
            width: hw.1,
        },
        look,
    );
    let p = &scene.pair;
    let layers = plate_layers(&p.source, scene.source_person.clone(), &|| false)?;
    let puppet = PuppetConfig::default();
    let edit = Edit {
        source: &p.source_pose,
        target: &p.target_pose,
        puppet: &puppet,
    };
    let comp = composite_edit(&layers, Method::Puppet, &edit, None)?;
    let view = working_view(&p.source, &comp, &p.source_pose, &p.target_pose, hw)?;
    let truth = crate::imaging::fit::fit_photo_to(&p.target, view.crop, hw).image;
    Ok(Sample { view, truth })
}

/// Renders the samples of `seeds` in parallel; `tick` gets the count done.
pub fn make_samples(
    seeds: &[u64],
    hw: (usize, usize),
    look: Look,
    tick: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Sample>> {
    let done = std::sync::atomic::AtomicUsize::new(0);
    seeds
        .par_iter()
        .map(|&s| {
            let r = make_sample(s, hw, look);
            tick(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
            r
        })
        .collect()
}

/// `(B, 3, H, W)` in [-1, 1] from the truths of a batch.
fn truth_tensor(samples: &[&Sample], dev: &Device) -> Result<Tensor> {
    let t: Vec<Tensor> = samples
        .iter()
        .map(|s| crate::imaging::image_to_tensor(&s.truth, &Device::Cpu))
        .collect::<candle_core::Result<_>>()?;
    Ok(Tensor::cat(&t, 0)?.to_device(dev)?)
}

/// The refiner's parameters as trainable variables.
pub struct RefinerParams {
    vars: Params,
}

impl RefinerParams {
    /// Fresh weights ([`Params::init`]) with the output conv zero, so that step 0 returns the
    /// composite unchanged (σ(0) · tanh(0) = 0).
    pub fn init(cfg: &RefinerConfig, seed: u64, dev: &Device) -> Result<Self> {
        let keys = crate::model::keys::record_keys(|vb| Refiner::new(vb, cfg).map(|_| ()))?;
        Ok(Self {
            vars: Params::init(keys, seed, dev, |k| k.starts_with("out."))?,
        })
    }

    /// The network on the current values (rebuilt per step: layers pre-arrange weights).
    pub fn model(&self, cfg: &RefinerConfig) -> Result<Refiner> {
        Ok(Refiner::new(self.vars.var_builder(), cfg)?)
    }

    pub fn named(&self) -> Vec<(String, Var)> {
        self.vars.named()
    }

    /// Detached CPU copies of the weights.
    pub fn state_dict(&self) -> Result<StateDict> {
        self.vars.cpu_state()
    }

    pub fn load_state_dict(&self, state: &StateDict) -> Result<()> {
        self.vars.load_state_dict(state, "refiner checkpoint")
    }
}

/// Mean absolute error per gated pixel and channel (the loss; zero-gate pixels are the
/// composite's and add a constant).
fn gated_l1(pred: &Tensor, truth: &Tensor, gate: &Tensor) -> Result<Tensor> {
    let open = gate.gt(0f32)?.to_dtype(DType::F32)?.sum_all()?;
    let err = (pred - truth)?
        .abs()?
        .broadcast_mul(&gate.gt(0f32)?.to_dtype(DType::F32)?)?;
    Ok(err.sum_all()?.broadcast_div(&((open * 3.0)? + 1.0)?)?)
}

/// What one step or validation measured: the refined and the plain composite's loss.
#[derive(Clone, Copy, Debug)]
pub struct Scores {
    pub refined: f32,
    pub composite: f32,
}

/// A run in memory.
pub struct RefinerTrainer {
    pub cfg: RefinerTrainConfig,
    pub params: RefinerParams,
    opt: Adam,
    rng: SplitMix64,
    pub step: usize,
    dev: Device,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RunState {
    step: usize,
    rng: u64,
}

impl RefinerTrainer {
    pub fn new(cfg: RefinerTrainConfig, dev: &Device) -> Result<Self> {
        anyhow::ensure!(
            cfg.batch_size > 0 && cfg.pool >= cfg.batch_size,
            "batch size must be positive and the pool at least one batch"
        );
        let (h, w) = cfg.model.working_hw;
        anyhow::ensure!(
            h > 0 && w > 0 && h % 8 == 0 && w % 8 == 0,
            "working size {h}x{w} must be positive multiples of 8"
        );
        let params = RefinerParams::init(&cfg.model, cfg.seed, dev)?;
        if let Some(path) = &cfg.init {
            let (state, _) = crate::weights::load_state_dict(path)
                .with_context(|| format!("reading the initial weights {}", path.display()))?;
            params
                .load_state_dict(&state)
                .with_context(|| format!("starting from {}", path.display()))?;
        }
        let opt = Adam::new(params.named(), cfg.adam)?;
        Ok(Self {
            rng: SplitMix64::new(cfg.seed ^ 0x5EED),
            cfg,
            params,
            opt,
            step: 0,
            dev: dev.clone(),
        })
    }

    /// Losses of the refined and plain composite on `samples`, without a gradient step.
    pub fn score(&self, samples: &[&Sample]) -> Result<Scores> {
        let model = self.params.model(&self.cfg.model)?;
        let mut sums = (0.0, 0.0);
        for chunk in samples.chunks(self.cfg.batch_size) {
            let views: Vec<&WorkingView> = chunk.iter().map(|s| &s.view).collect();
            let (x, gate) = batch_input(&views, &self.dev)?;
            let truth = truth_tensor(chunk, &self.dev)?;
            let pred = model.refine(&x.detach(), &gate)?.detach();
            let comp = x.narrow(1, 0, 3)?;
            let k = chunk.len() as f32;
            sums.0 += k * gated_l1(&pred, &truth, &gate)?.to_scalar::<f32>()?;
            sums.1 += k * gated_l1(&comp, &truth, &gate)?.to_scalar::<f32>()?;
        }
        let n = samples.len().max(1) as f32;
        Ok(Scores {
            refined: sums.0 / n,
            composite: sums.1 / n,
        })
    }

    /// One optimiser step on a batch drawn from `pool`.
    pub fn train_step(&mut self, pool: &Pool) -> Result<Scores> {
        let picks: Vec<u32> = (0..self.cfg.batch_size)
            .map(|_| (self.rng.next_u64() % pool.len() as u64) as u32)
            .collect();
        let (x, gate, truth) = pool.batch(&picks, &self.dev)?;
        let model = self.params.model(&self.cfg.model)?;
        let pred = model.refine(&x, &gate)?;
        let loss = gated_l1(&pred, &truth, &gate)?;
        let grads = loss.backward()?;
        self.opt.step(&grads)?;
        self.step += 1;
        let comp = gated_l1(&x.narrow(1, 0, 3)?, &truth, &gate)?;
        Ok(Scores {
            refined: loss.to_scalar::<f32>()?,
            composite: comp.to_scalar::<f32>()?,
        })
    }

    /// Weights (with the model config in the metadata, as the shipped file), optimiser and
    /// step, atomically, in `run_dir/checkpoint/`.
    pub fn save_checkpoint(&self, run_dir: &Path) -> Result<()> {
        let dir = run_dir.join("checkpoint");
        std::fs::create_dir_all(&dir)?;
        save_weights(
            &self.params.state_dict()?,
            &self.cfg.model,
            &dir.join(WEIGHTS),
        )?;
        let opt: StateDict = self
            .opt
            .state_dict()?
            .into_iter()
            .map(|(k, t)| Ok((k, t.to_device(&Device::Cpu)?)))
            .collect::<Result<_>>()?;
        crate::weights::save_safetensors(&opt, &dir.join("optimizer.safetensors"))?;
        let state = RunState {
            step: self.step,
            rng: self.rng.state(),
        };
        crate::util::fs::write_atomic(
            &dir.join("state.json"),
            serde_json::to_string(&state)?.as_bytes(),
        )
    }

    pub fn load_checkpoint(&mut self, run_dir: &Path) -> Result<()> {
        let dir = run_dir.join("checkpoint");
        let load = |name: &str| -> Result<StateDict> {
            Ok(crate::weights::load_state_dict(&dir.join(name))?.0)
        };
        self.params.load_state_dict(&load(WEIGHTS)?)?;
        let opt: StateDict = load("optimizer.safetensors")?
            .into_iter()
            .map(|(k, t)| Ok((k, t.to_device(&self.dev)?)))
            .collect::<Result<_>>()?;
        self.opt.load_state_dict(&opt)?;
        let state: RunState =
            serde_json::from_str(&std::fs::read_to_string(dir.join("state.json"))?)?;
        self.step = state.step;
        self.rng = SplitMix64::new(state.rng);
        Ok(())
    }
}

/// File name of the weights in a checkpoint (and of the shipped refiner).
pub const WEIGHTS: &str = "refiner.safetensors";

/// Saves refiner weights with their config as the `refiner_config` metadata entry.
pub fn save_weights(state: &StateDict, cfg: &RefinerConfig, path: &Path) -> Result<()> {
    let meta = HashMap::from([("refiner_config".to_string(), serde_json::to_string(cfg)?)]);
    crate::weights::save_safetensors_with_metadata(state, meta, path)?;
    Ok(())
}

/// The run folder's trained weights.
pub fn checkpoint_weights(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoint").join(WEIGHTS)
}

/// Seeds of the pool (training range) and of the validation scenes (preview range).
fn pool_seeds(cfg: &RefinerTrainConfig) -> (Vec<u64>, Vec<u64>) {
    let base = cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) % (super::data::PREVIEW_SEEDS / 2);
    let pool = (0..cfg.pool as u64).map(|i| base + i).collect();
    let val = (0..cfg.validation as u64)
        .map(|i| super::data::PREVIEW_SEEDS + 7919 + i)
        .collect();
    (pool, val)
}

/// What the run reports as it goes (the CLI draws a progress bar).
pub trait Progress {
    fn message(&mut self, text: &str);
    fn pool(&mut self, done: usize, total: usize);
    fn step(&mut self, step: usize, total: usize, scores: &Scores);
}

/// When a run may train.
#[derive(Clone, Debug, Default)]
pub struct Schedule {
    /// Stop (with a checkpoint) at this instant.
    pub deadline: Option<std::time::Instant>,
    /// Render the pool at once, but take the first step only once this file exists (so a GPU
    /// machine can render scenes on its CPUs while the GPU still runs other measurements).
    pub start_after: Option<PathBuf>,
}

/// Trains in `run_dir` until `cfg.steps` or the schedule's deadline, resuming from its
/// checkpoint; writes `log.csv` (step, refined, composite, seconds) and `val.csv` (step,
/// refined, composite).
pub fn run(
    cfg: RefinerTrainConfig,
    run_dir: &Path,
    dev: &Device,
    schedule: &Schedule,
    progress: &mut (dyn Progress + Send),
) -> Result<RefinerTrainer> {
    let deadline = schedule.deadline;
    let past_deadline = || deadline.is_some_and(|d| std::time::Instant::now() >= d);
    std::fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let cfg_path = run_dir.join("config.json");
    let mut trainer = RefinerTrainer::new(cfg.clone(), dev)?;
    if let Some(saved) = super::saved_config::<RefinerTrainConfig>(run_dir)? {
        anyhow::ensure!(
            saved.model == cfg.model
                && saved.seed == cfg.seed
                && saved.pool == cfg.pool
                && saved.look == cfg.look,
            "{} holds a different run (model, seed, pool or look differ); use another --run folder",
            run_dir.display()
        );
        trainer.load_checkpoint(run_dir)?;
        progress.message(&format!("resumed at step {}", trainer.step));
        // Rows past the checkpoint are redone by this run.
        for log in ["log.csv", "val.csv"] {
            super::truncate_log(&run_dir.join(log), trainer.step)?;
        }
    }
    crate::util::fs::write_atomic(&cfg_path, serde_json::to_string_pretty(&cfg)?.as_bytes())?;
    let hw = cfg.model.working_hw;
    let (pool_s, val_s) = pool_seeds(&cfg);
    let t0 = std::time::Instant::now();
    let total = pool_s.len() + val_s.len();
    let all: Vec<u64> = pool_s.iter().chain(&val_s).copied().collect();
    let mut samples = {
        let bar = std::sync::Mutex::new(&mut *progress);
        make_samples(&all, hw, cfg.look, &|d| {
            if d % 16 == 0 || d == total {
                if let Ok(mut p) = bar.lock() {
                    p.pool(d, total);
                }
            }
        })?
    };
    let val = samples.split_off(pool_s.len());
    let pool = Pool::new(samples, dev)?;
    progress.message(&format!(
        "pool of {} scenes and {} validation scenes in {:.0} s",
        pool.len(),
        val.len(),
        t0.elapsed().as_secs_f64()
    ));
    let mut log = super::append_log(&run_dir.join("log.csv"), "step,refined,composite,seconds")?;
    let mut vlog = super::append_log(&run_dir.join("val.csv"), "step,refined,composite")?;
    if let Some(flag) = &schedule.start_after {
        progress.message(&format!("waiting for {}", flag.display()));
        while !flag.exists() && !past_deadline() {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    let val_refs: Vec<&Sample> = val.iter().collect();
    let validate = |trainer: &RefinerTrainer, vlog: &mut std::fs::File| -> Result<Scores> {
        let s = trainer.score(&val_refs)?;
        writeln!(vlog, "{},{},{}", trainer.step, s.refined, s.composite)?;
        vlog.flush()?;
        Ok(s)
    };
    if trainer.step == 0 && !val.is_empty() {
        validate(&trainer, &mut vlog)?;
    }
    while trainer.step < cfg.steps {
        if past_deadline() {
            progress.message("time is up: stopping at a checkpoint");
            break;
        }
        let t = std::time::Instant::now();
        let s = trainer.train_step(&pool)?;
        writeln!(
            log,
            "{},{},{},{:.4}",
            trainer.step,
            s.refined,
            s.composite,
            t.elapsed().as_secs_f64()
        )?;
        progress.step(trainer.step, cfg.steps, &s);
        let done = trainer.step == cfg.steps;
        if cfg.validate_every > 0 && (trainer.step % cfg.validate_every == 0 || done) {
            let v = validate(&trainer, &mut vlog)?;
            progress.message(&format!(
                "step {}: validation L1 {:.4} (composite {:.4})",
                trainer.step, v.refined, v.composite
            ));
        }
        if trainer.step % cfg.checkpoint_every.max(1) == 0 || done {
            log.flush()?;
            trainer.save_checkpoint(run_dir)?;
        }
    }
    log.flush()?;
    trainer.save_checkpoint(run_dir)?;
    Ok(trainer)
}

#[cfg(test)]
mod tests;
