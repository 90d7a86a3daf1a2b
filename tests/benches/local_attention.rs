//! Criterion benchmarks of GFLA's local attention at the DeepFashion release's sizes:
//! the block extractor, the fused attention pool, and the whole `ExtractorAttn` block
//! (level 2: C=128, k=5, 64×64; level 3: C=256, k=3, 32×32).

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use criterion::{criterion_group, criterion_main, Criterion};
use marionette::model::gfla::ExtractorAttn;
use marionette::ops;
use std::collections::HashMap;

struct Case {
    name: &'static str,
    c: usize,
    k: usize,
    hw: usize,
}

const CASES: [Case; 2] = [
    Case {
        name: "level2_c128_k5_64x64",
        c: 128,
        k: 5,
        hw: 64,
    },
    Case {
        name: "level3_c256_k3_32x32",
        c: 256,
        k: 3,
        hw: 32,
    },
];

fn bench(c: &mut Criterion) {
    let dev = Device::Cpu;
    let mut group = c.benchmark_group("local_attention");
    group.sample_size(20);
    for case in &CASES {
        let (ch, k, n) = (case.c, case.k, case.hw);
        let source = Tensor::randn(0f32, 1.0, (1, ch, n, n), &dev).unwrap();
        let target = Tensor::randn(0f32, 1.0, (1, ch, n, n), &dev).unwrap();
        let flow = Tensor::randn(0f32, 3.0, (1, 2, n, n), &dev).unwrap();
        let patches = ops::block_extractor(&source, &flow, k).unwrap();
        let attn = candle_nn::ops::softmax(
            &Tensor::randn(0f32, 1.0, (1, k * k, n, n), &dev).unwrap(),
            1,
        )
        .unwrap();
        let weights: HashMap<String, Tensor> = [
            (
                "fully_connect_layer.0.weight",
                Tensor::randn(0f32, 0.02, (128, 2 * ch, k, k), &dev).unwrap(),
            ),
            (
                "fully_connect_layer.0.bias",
                Tensor::zeros(128, DType::F32, &dev).unwrap(),
            ),
            (
                "fully_connect_layer.2.weight",
                Tensor::randn(0f32, 0.1, (k * k, 128, 1, 1), &dev).unwrap(),
            ),
            (
                "fully_connect_layer.2.bias",
                Tensor::zeros(k * k, DType::F32, &dev).unwrap(),
            ),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect();
        let block = ExtractorAttn::new(
            VarBuilder::from_tensors(weights, DType::F32, &dev),
            ch,
            k,
            128,
        )
        .unwrap();

        group.bench_function(format!("block_extractor/{}", case.name), |b| {
            b.iter(|| ops::block_extractor(&source, &flow, k).unwrap())
        });
        group.bench_function(format!("attention_pool/{}", case.name), |b| {
            b.iter(|| ops::local_attention(&attn, &patches, k).unwrap())
        });
        group.bench_function(format!("extractor_attn/{}", case.name), |b| {
            b.iter(|| block.forward(&source, &target, &flow).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
