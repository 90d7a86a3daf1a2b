//! A small TFLite reader and interpreter on candle, for exactly the ops of MediaPipe's
//! BlazePose detector and landmark graphs.
//!
//! * [`flatbuf`] — bounds-checked FlatBuffers reading (no panics on corrupt files);
//! * [`schema`] — the TFLite tables we need, as plain structs;
//! * [`sparse`] — DENSIFY, expanded at load;
//! * [`kernels`] — NHWC CPU kernels (GEMM convolutions, a SIMD depthwise loop, …);
//! * [`graph`] — the interpreter: constant folding at load, shape checks, then the run.
//!
//! Weights stored as float16 (behind DEQUANTIZE) and sparse weights (behind DENSIFY) become
//! dense f32 once, at load, so a run only executes the real operators.

pub mod flatbuf;
pub mod graph;
pub mod kernels;
pub mod schema;
pub mod sparse;

pub use graph::{Interpreter, Port, StepInfo};

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum TfliteError {
    #[error("{}: {error}", path.display())]
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    /// The bytes are not a well-formed TFLite flatbuffer.
    #[error("malformed TFLite model: {0}")]
    Malformed(String),
    /// Well-formed, but uses something this interpreter does not implement.
    #[error("unsupported TFLite model: {0}")]
    Unsupported(String),
    /// The caller's inputs do not fit the model.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("{context}: {error}")]
    Context {
        context: String,
        error: Box<TfliteError>,
    },
}

impl TfliteError {
    /// Prefixes where the error happened (a tensor, an operator, a file).
    pub fn context(self, context: impl Into<String>) -> Self {
        TfliteError::Context {
            context: context.into(),
            error: Box::new(self),
        }
    }
}
