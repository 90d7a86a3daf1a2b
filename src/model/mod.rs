//! The networks. Each model follows the candle-transformers shape: a config struct,
//! `Model::new(vb, &cfg)`, `forward`; parameter names equal the authors' PyTorch keys so
//! official checkpoints load by name.

pub mod device;
pub mod generator;
pub mod gfla;
pub mod keys;
pub mod layers;
pub mod pona;
pub mod refiner;
pub mod shipped;
pub mod trace;

pub use generator::{Generated, Generator, ModelKind, PreparedSource};
pub use trace::Tracer;
