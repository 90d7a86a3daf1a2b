//! Training on synthetic people: the losses go down on a tiny config, checkpoints resume
//! exactly, and the saved weights load as an ordinary GFLA checkpoint.

use candle_core::Device;
use marionette::model::gfla::{weights as gfla_weights, GflaConfig};
use marionette::train::{self, TrainConfig, Trainer};

/// Stage 1 and stage 2 each reduce their objective on a fixed batch within a few steps.
#[test]
fn a_few_steps_on_a_tiny_config_reduce_the_loss() -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let mut cfg = TrainConfig::tiny();
    cfg.flow_steps = 12;
    cfg.steps = 12;
    cfg.adam.lr = 1e-3;
    let mut t = Trainer::new(cfg, &dev)?;
    let batch = t.next_batch()?;
    let mut flow = Vec::new();
    for _ in 0..12 {
        flow.push(t.train_step(&batch)?);
    }
    assert_eq!(t.stage(), 2);
    let mut e2e = Vec::new();
    for _ in 0..12 {
        e2e.push(t.train_step(&batch)?);
    }
    let first_flow = flow[0].flow_epe + flow[0].mask;
    let last_flow = flow[11].flow_epe + flow[11].mask;
    assert!(
        last_flow < 0.8 * first_flow,
        "stage 1: EPE + mask BCE {first_flow} -> {last_flow}"
    );
    assert!(
        e2e[11].l1 < 0.8 * e2e[0].l1,
        "stage 2: L1 {} -> {}",
        e2e[0].l1,
        e2e[11].l1
    );
    Ok(())
}

/// Stopping after a checkpoint and resuming gives the same next step as never stopping.
#[test]
fn resuming_from_a_checkpoint_continues_exactly() -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let dir = tempfile::tempdir()?;
    let mut cfg = TrainConfig::tiny();
    cfg.flow_steps = 2;
    cfg.steps = 2;
    cfg.checkpoint_every = 3;

    struct Quiet;
    impl train::Progress for Quiet {
        fn start(&mut self, _: usize, _: usize) {}
        fn step(&mut self, _: usize, _: u8, _: &train::StepLosses) {}
        fn message(&mut self, _: &str) {}
    }

    // Uninterrupted: four steps.
    let mut straight = Trainer::new(cfg.clone(), &dev)?;
    let mut last = None;
    for _ in 0..4 {
        let b = straight.next_batch()?;
        last = Some(straight.train_step(&b)?);
    }
    // Interrupted: three steps, checkpoint, fresh process state, resume for the fourth.
    let mut first = Trainer::new(cfg.clone(), &dev)?;
    for _ in 0..3 {
        let b = first.next_batch()?;
        first.train_step(&b)?;
    }
    first.save_checkpoint(dir.path())?;
    std::fs::write(dir.path().join("config.json"), serde_json::to_string(&cfg)?)?;
    drop(first);
    // The interrupted run had logged a step past its checkpoint; the resumed log keeps one row
    // per step.
    std::fs::write(
        dir.path().join("log.csv"),
        "step,stage,total\n1,1,0\n2,1,0\n3,2,0\n4,2,0\n",
    )?;
    let resumed = train::run(cfg.clone(), dir.path(), &dev, &mut Quiet)?;
    assert_eq!(resumed.step, 4);
    let log = std::fs::read_to_string(dir.path().join("log.csv"))?;
    let steps: Vec<&str> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(steps, ["1", "2", "3", "4"], "{log}");
    let row: Vec<&str> = log.lines().last().unwrap().split(',').collect();
    assert_eq!(row[0], "4");
    let logged_l1: f32 = row[6].parse()?;
    let want = last.unwrap().l1;
    assert!(
        (logged_l1 - want).abs() <= 1e-5 * want.abs().max(1.0),
        "resumed step-4 L1 {logged_l1} vs uninterrupted {want}"
    );
    // The generator checkpoint loads like any GFLA checkpoint.
    let sizes = GflaConfig {
        input_hw: cfg.model.input_hw,
        annotation_hw: cfg.model.annotation_hw,
        ..GflaConfig::synth()
    };
    let (_, inferred) =
        gfla_weights::load(&train::checkpoint_weights(dir.path()), None, &sizes, &dev)?;
    // The configuration travels in the file's metadata (input size and options included).
    assert_eq!(inferred, cfg.model);
    // A different run refuses the folder instead of mixing checkpoints.
    let mut other = cfg.clone();
    other.seed += 1;
    let err = train::run(other, dir.path(), &dev, &mut Quiet)
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("different run"), "{err}");
    Ok(())
}

/// The puppet-prior recipe: a prior model started from a plain model's weights keeps them
/// (the prior's two extra input channels at zero, flow heads at zero, so its first flows are the
/// puppet's), and a few steps on hidden-person ℓ1 and the correction targets reduce the loss.
#[test]
fn a_puppet_prior_run_starts_from_plain_weights_and_learns() -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let dir = tempfile::tempdir()?;
    let plain = TrainConfig::tiny();
    let init = dir.path().join("plain.safetensors");
    let state = gfla_weights::random_state_dict(&plain.model, 9)?;
    gfla_weights::save_with_config(&state, &plain.model, &init)?;

    let mut cfg = TrainConfig::tiny();
    cfg.model.puppet_prior = true;
    cfg.init = Some(init);
    cfg.flow_steps = 0;
    cfg.steps = 10;
    cfg.loss.l1_hidden = 5.0;
    cfg.adam.lr = 1e-3;
    let mut t = Trainer::new(cfg, &dev)?;
    let started = t.gen.state_dict()?;
    let key = "flow_net.block0.model.2.weight";
    let (old, new) = (&state[key], &started[key]);
    let cin = old.dim(1)?;
    assert_eq!(new.dim(1)?, cin + 2, "the prior joins the input");
    let kept = (new.narrow(1, 0, cin)? - old)?
        .abs()?
        .max_all()?
        .to_scalar::<f32>()?;
    let extra = new
        .narrow(1, cin, 2)?
        .abs()?
        .max_all()?
        .to_scalar::<f32>()?;
    assert_eq!((kept, extra), (0.0, 0.0));
    for (k, v) in &started {
        if k.starts_with("flow_net.output") {
            assert_eq!(v.abs()?.max_all()?.to_scalar::<f32>()?, 0.0, "{k}");
        }
    }
    let batch = t.next_batch()?;
    assert!(batch.prior.is_some());
    let first = t.train_step(&batch)?;
    let mut last = first;
    for _ in 0..9 {
        last = t.train_step(&batch)?;
    }
    assert!(
        last.total < 0.9 * first.total,
        "loss {} -> {}",
        first.total,
        last.total
    );
    Ok(())
}
