//! The refiner's training: step 0, learning, the GPU pool's gathers, init and resuming.

use super::*;

fn tiny() -> RefinerTrainConfig {
    RefinerTrainConfig {
        model: RefinerConfig {
            widths: [4, 4, 4, 4],
            res_blocks: 1,
            working_hw: (64, 48),
        },
        pool: 3,
        batch_size: 2,
        steps: 4,
        validation: 2,
        validate_every: 2,
        checkpoint_every: 2,
        ..Default::default()
    }
}

#[test]
fn step_zero_is_the_composite_and_training_lowers_the_loss() {
    let cfg = RefinerTrainConfig {
        steps: 30,
        adam: AdamParams {
            lr: 3e-3,
            ..tiny().adam
        },
        ..tiny()
    };
    let mut t = RefinerTrainer::new(cfg.clone(), &Device::Cpu).unwrap();
    let samples = make_samples(&[11, 12, 13], cfg.model.working_hw, cfg.look, &|_| {}).unwrap();
    let refs: Vec<&Sample> = samples.iter().collect();
    let s0 = t.score(&refs).unwrap();
    assert_eq!(s0.refined, s0.composite, "a fresh refiner changes nothing");
    assert!(s0.composite > 0.0, "the compositor is not perfect here");
    let pool = Pool::new(samples.clone(), &Device::Cpu).unwrap();
    for _ in 0..cfg.steps {
        t.train_step(&pool).unwrap();
    }
    let s1 = t.score(&refs).unwrap();
    assert!(
        s1.refined < s0.refined,
        "30 steps on 3 scenes must fit them better: {} → {}",
        s0.refined,
        s1.refined
    );
}

#[test]
fn the_gpu_pools_chunks_gather_the_same_batches_as_the_samples() {
    let samples = make_samples(&[31, 32, 33, 34, 35], (64, 48), Look::Drawn, &|_| {}).unwrap();
    let chunked = Pool::tensors(&samples, &Device::Cpu, 2).unwrap();
    assert_eq!(chunked.len(), 5);
    let plain = Pool::Samples(samples);
    let picks = [4u32, 0, 3, 3, 1];
    let a = chunked.batch(&picks, &Device::Cpu).unwrap();
    let b = plain.batch(&picks, &Device::Cpu).unwrap();
    for (x, y) in [(a.0, b.0), (a.1, b.1), (a.2, b.2)] {
        let d = (x - y).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
    }
}

#[test]
fn init_starts_from_saved_weights() {
    let cfg = tiny();
    let dir = tempfile::tempdir().unwrap();
    let a = RefinerTrainer::new(
        RefinerTrainConfig {
            seed: 5,
            ..cfg.clone()
        },
        &Device::Cpu,
    )
    .unwrap();
    let path = dir.path().join("w.safetensors");
    save_weights(&a.params.state_dict().unwrap(), &cfg.model, &path).unwrap();
    let b = RefinerTrainer::new(
        RefinerTrainConfig {
            seed: 6,
            init: Some(path),
            ..cfg
        },
        &Device::Cpu,
    )
    .unwrap();
    let (sa, sb) = (
        a.params.state_dict().unwrap(),
        b.params.state_dict().unwrap(),
    );
    for (k, t) in &sa {
        let d = (t - &sb[k]).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0, "{k}");
    }
}

#[test]
fn a_resumed_run_continues_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    struct Quiet;
    impl Progress for Quiet {
        fn message(&mut self, _: &str) {}
        fn pool(&mut self, _: usize, _: usize) {}
        fn step(&mut self, _: usize, _: usize, _: &Scores) {}
    }
    let cfg = tiny();
    let now = Schedule::default();
    let a = run(cfg.clone(), dir.path(), &Device::Cpu, &now, &mut Quiet).unwrap();
    assert_eq!(a.step, 4);
    // A run killed past its checkpoint left a row the resumed run redoes.
    let log_path = dir.path().join("log.csv");
    let mut log = std::fs::read_to_string(&log_path).unwrap();
    log.push_str("5,0.1,0.1,1.0\n");
    std::fs::write(&log_path, log).unwrap();
    let more = RefinerTrainConfig { steps: 6, ..cfg };
    let b = run(more, dir.path(), &Device::Cpu, &now, &mut Quiet).unwrap();
    assert_eq!(b.step, 6);
    let log = std::fs::read_to_string(&log_path).unwrap();
    let steps: Vec<&str> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["1", "2", "3", "4", "5", "6"],
        "one row per step:\n{log}"
    );
    // A different recipe in the same folder is refused.
    let other = RefinerTrainConfig { seed: 9, ..tiny() };
    let err = run(other, dir.path(), &Device::Cpu, &now, &mut Quiet)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("different run"), "{err}");
}
