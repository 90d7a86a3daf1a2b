//! A tiny, dependency-free PRNG so random weights are reproducible from a seed.

pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The generator's state: `SplitMix64::new(r.state())` continues where `r` is (for
    /// checkpoints that resume a run's random draws exactly).
    pub fn state(&self) -> u64 {
        self.0
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// He-normal initialisation of a conv weight `(d0, d1, kh, kw)`: N(0, 2 / (d1·kh·kw)).
    /// For a ConvTranspose (stored (in, out, kh, kw)) this is the fan of the gather direction,
    /// close enough for random benchmarking weights.
    pub fn he_normal(&mut self, shape: &[usize]) -> Vec<f32> {
        let n: usize = shape.iter().product();
        let fan_in = shape.iter().skip(1).product::<usize>().max(1) as f64;
        let std = (2.0 / fan_in).sqrt();
        (0..n).map(|_| (self.normal() * std) as f32).collect()
    }

    /// Standard normal by Box–Muller.
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}
