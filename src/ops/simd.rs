//! Which vector instruction set the CPU kernels run: one choice per process, made once.
//!
//! The direct convolutions ([`super::tap_conv`]), the fused instance norm and the row softmax
//! each have a build per instruction set; this module picks the widest one the CPU has, or
//! the one `MARIONETTE_SIMD=avx512|avx2|neon|portable` names (to measure one path against
//! another, or to test one on a machine that has a wider one). A named set the CPU lacks is
//! refused with a warning and the detected one runs, so a typo never means a crash, and
//! `bench` prints what ran.

use std::sync::OnceLock;

/// An instruction set the CPU kernels are built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// x86-64 with AVX-512F: 32 registers of 16 floats, masked loads and stores.
    Avx512,
    /// x86-64 with AVX2 and FMA: 16 registers of 8 floats.
    Avx2,
    /// AArch64 Advanced SIMD: 32 registers of 4 floats.
    Neon,
    /// Plain Rust (the baseline target's vectors): every machine, and the tests' reference.
    Portable,
}

impl Isa {
    /// Every set, widest first.
    pub const ALL: [Isa; 4] = [Isa::Avx512, Isa::Avx2, Isa::Neon, Isa::Portable];

    /// Whether this CPU runs it.
    pub fn supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            // Advanced SIMD is part of the AArch64 base architecture.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => true,
            Isa::Portable => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The name `MARIONETTE_SIMD` takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Neon => "neon",
            Isa::Portable => "portable",
        }
    }

    /// How `bench` reports it.
    pub fn label(self) -> &'static str {
        match self {
            Isa::Avx512 => "AVX-512",
            Isa::Avx2 => "AVX2+FMA",
            Isa::Neon => "NEON",
            Isa::Portable => "portable",
        }
    }

    fn parse(s: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|i| i.name() == s)
    }
}

/// The widest set this CPU runs.
pub fn detected() -> Isa {
    Isa::ALL
        .into_iter()
        .find(|i| i.supported())
        .unwrap_or(Isa::Portable)
}

/// The set the kernels run: `MARIONETTE_SIMD` if set and supported, else [`detected`].
pub fn isa() -> Isa {
    static CHOSEN: OnceLock<Isa> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let Ok(name) = std::env::var("MARIONETTE_SIMD") else {
            return detected();
        };
        match Isa::parse(name.trim()) {
            Some(i) if i.supported() => i,
            Some(i) => {
                eprintln!(
                    "MARIONETTE_SIMD={name}: this CPU has no {}; using {}",
                    i.label(),
                    detected().label()
                );
                detected()
            }
            None => {
                eprintln!(
                    "MARIONETTE_SIMD={name}: not one of avx512, avx2, neon, portable; using {}",
                    detected().label()
                );
                detected()
            }
        }
    })
}

/// Every set this CPU runs, each named on stderr that it does not (tests of every path).
#[cfg(test)]
pub(crate) fn testable() -> Vec<Isa> {
    Isa::ALL
        .into_iter()
        .filter(|i| {
            let ok = i.supported();
            if !ok {
                eprintln!("no {} on this CPU: its path is not tested", i.label());
            }
            ok
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_portable_always_runs() {
        for i in Isa::ALL {
            assert_eq!(Isa::parse(i.name()), Some(i));
        }
        assert!(Isa::Portable.supported());
        assert!(detected().supported());
        assert!(isa().supported());
    }
}
