//! The parts of the TFLite schema (`schema.fbs`) that the BlazePose graphs use, read into
//! plain Rust structs. Field numbers are the schema's; unknown fields are ignored, unknown
//! operators are kept (by code) so the interpreter can name them in its error.

use super::flatbuf::{Buf, Table};
use super::TfliteError;

type Result<T> = std::result::Result<T, TfliteError>;

/// Element types we can hold (TFLite `TensorType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    F16,
    I32,
    /// Any other type, by its schema code; only an error if an op actually reads it.
    Other(u8),
}

impl DType {
    fn from_code(code: u8) -> Self {
        match code {
            0 => DType::F32,
            1 => DType::F16,
            2 => DType::I32,
            c => DType::Other(c),
        }
    }

    pub fn size(self) -> Option<usize> {
        match self {
            DType::F32 | DType::I32 => Some(4),
            DType::F16 => Some(2),
            DType::Other(_) => None,
        }
    }
}

/// Fused activation (TFLite `ActivationFunctionType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    None,
    Relu,
    Relu6,
}

impl Activation {
    fn from_code(code: u8, op: &str) -> Result<Self> {
        match code {
            0 => Ok(Activation::None),
            1 => Ok(Activation::Relu),
            3 => Ok(Activation::Relu6),
            c => Err(TfliteError::Unsupported(format!(
                "{op}: fused activation code {c} (only NONE, RELU and RELU6 are implemented)"
            ))),
        }
    }
}

/// TFLite `Padding`: SAME pads so that `out = ceil(in / stride)`, putting the odd pixel
/// after (bottom/right); VALID does not pad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    Same,
    Valid,
}

/// Stride, dilation and padding of a 2-D window op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub padding: Padding,
    pub stride: (usize, usize),
    pub dilation: (usize, usize),
}

/// Builtin options of the operators we implement.
#[derive(Clone, Debug, PartialEq)]
pub enum Options {
    None,
    Conv {
        window: Window,
        activation: Activation,
    },
    Depthwise {
        window: Window,
        depth_multiplier: usize,
        activation: Activation,
    },
    Pool {
        window: Window,
        filter: (usize, usize),
        activation: Activation,
    },
    Add {
        activation: Activation,
    },
    Concat {
        axis: i32,
        activation: Activation,
    },
    Resize {
        align_corners: bool,
        half_pixel_centers: bool,
    },
    DepthToSpace {
        block: usize,
    },
    Reshape {
        new_shape: Vec<i32>,
    },
}

/// Builtin operator codes (TFLite `BuiltinOperator`) of the ops this interpreter knows.
pub mod opcode {
    pub const ADD: i32 = 0;
    pub const CONCATENATION: i32 = 2;
    pub const CONV_2D: i32 = 3;
    pub const DEPTHWISE_CONV_2D: i32 = 4;
    pub const DEPTH_TO_SPACE: i32 = 5;
    pub const DEQUANTIZE: i32 = 6;
    pub const LOGISTIC: i32 = 14;
    pub const MAX_POOL_2D: i32 = 17;
    pub const RESHAPE: i32 = 22;
    pub const RESIZE_BILINEAR: i32 = 23;
    pub const PAD: i32 = 34;
    pub const DENSIFY: i32 = 124;

    /// A readable name for error messages.
    pub fn name(code: i32) -> String {
        match code {
            ADD => "ADD".into(),
            CONCATENATION => "CONCATENATION".into(),
            CONV_2D => "CONV_2D".into(),
            DEPTHWISE_CONV_2D => "DEPTHWISE_CONV_2D".into(),
            DEPTH_TO_SPACE => "DEPTH_TO_SPACE".into(),
            DEQUANTIZE => "DEQUANTIZE".into(),
            LOGISTIC => "LOGISTIC".into(),
            MAX_POOL_2D => "MAX_POOL_2D".into(),
            RESHAPE => "RESHAPE".into(),
            RESIZE_BILINEAR => "RESIZE_BILINEAR".into(),
            PAD => "PAD".into(),
            DENSIFY => "DENSIFY".into(),
            other => format!("builtin operator {other}"),
        }
    }
}

/// One sparse dimension's metadata (TFLite `DimensionMetadata`).
#[derive(Clone, Debug, PartialEq)]
pub enum SparseDim {
    Dense(usize),
    /// CSR: `segments[i]..segments[i+1]` index into `indices` for parent position `i`.
    Csr {
        segments: Vec<usize>,
        indices: Vec<usize>,
    },
}

/// TFLite `SparsityParameters` (only what DENSIFY needs).
#[derive(Clone, Debug, PartialEq)]
pub struct Sparsity {
    pub traversal_order: Vec<i32>,
    pub block_map: Vec<i32>,
    pub dims: Vec<SparseDim>,
}

#[derive(Clone, Debug)]
pub struct TensorDef {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// Constant contents (weights); `None` for activations.
    pub data: Option<Vec<u8>>,
    pub sparsity: Option<Sparsity>,
}

#[derive(Clone, Debug)]
pub struct OpDef {
    pub code: i32,
    /// Input tensor indices; `None` for an omitted optional input (index -1).
    pub inputs: Vec<Option<usize>>,
    pub outputs: Vec<usize>,
    pub options: Options,
}

/// The first subgraph of a model, with constant buffers resolved.
#[derive(Clone, Debug)]
pub struct ModelDef {
    pub tensors: Vec<TensorDef>,
    pub ops: Vec<OpDef>,
    pub inputs: Vec<usize>,
    pub outputs: Vec<usize>,
}

fn malformed(msg: impl Into<String>) -> TfliteError {
    TfliteError::Malformed(msg.into())
}

/// Parses a `.tflite` file's bytes.
pub fn parse(bytes: &[u8]) -> Result<ModelDef> {
    let buf = Buf::new(bytes);
    let model = buf.root(b"TFL3")?;
    let version = model.u32(0, 0, "model version")?;
    if version != 3 {
        return Err(malformed(format!("schema version {version}, expected 3")));
    }
    let codes = model
        .tables(1, "operator codes")?
        .iter()
        .map(|c| {
            // Old files keep the code in the deprecated byte; new ones in the int (the larger wins).
            let old = c.u8(0, 0, "deprecated builtin code")? as i32;
            let new = c.i32(3, 0, "builtin code")?;
            Ok(old.max(new))
        })
        .collect::<Result<Vec<i32>>>()?;
    let buffers = model.tables(4, "buffers")?;
    let subgraphs = model.tables(2, "subgraphs")?;
    let graph = subgraphs
        .first()
        .ok_or_else(|| malformed("the model has no subgraph"))?;

    let tensors = graph
        .tables(0, "tensors")?
        .iter()
        .enumerate()
        .map(|(i, t)| tensor_def(t, &buffers, bytes).map_err(|e| e.context(format!("tensor {i}"))))
        .collect::<Result<Vec<_>>>()?;
    let n = tensors.len();
    let index = |v: i32, what: &str| -> Result<usize> {
        usize::try_from(v)
            .ok()
            .filter(|&i| i < n)
            .ok_or_else(|| malformed(format!("{what} refers to tensor {v} of {n}")))
    };
    let inputs = graph
        .i32s(1, "graph inputs")?
        .into_iter()
        .map(|v| index(v, "a graph input"))
        .collect::<Result<Vec<_>>>()?;
    let outputs = graph
        .i32s(2, "graph outputs")?
        .into_iter()
        .map(|v| index(v, "a graph output"))
        .collect::<Result<Vec<_>>>()?;
    let ops = graph
        .tables(3, "operators")?
        .iter()
        .enumerate()
        .map(|(k, op)| {
            let what = format!("operator {k}");
            let opcode_index = op.u32(0, 0, &what)? as usize;
            let code = *codes.get(opcode_index).ok_or_else(|| {
                malformed(format!(
                    "{what}: opcode index {opcode_index} of {}",
                    codes.len()
                ))
            })?;
            let inputs = op
                .i32s(1, &what)?
                .into_iter()
                .map(|v| {
                    if v < 0 {
                        Ok(None)
                    } else {
                        index(v, &what).map(Some)
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            let outputs = op
                .i32s(2, &what)?
                .into_iter()
                .map(|v| index(v, &what))
                .collect::<Result<Vec<_>>>()?;
            let options = options(code, op.table(4, &what)?, &what)?;
            Ok(OpDef {
                code,
                inputs,
                outputs,
                options,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ModelDef {
        tensors,
        ops,
        inputs,
        outputs,
    })
}

/// The most elements a tensor may have (32 MiB of float32): BlazePose's largest holds about a
/// million, and every shape within it has an element count that cannot overflow. (At 2^26 a
/// 768-byte model still made DENSIFY fill 256 MiB for a second: tests/data/fuzz/tflite/.)
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 23;

/// `shape`'s element count when it is at most [`MAX_TENSOR_ELEMENTS`].
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_TENSOR_ELEMENTS)
}

fn tensor_def(t: &Table, buffers: &[Table], file: &[u8]) -> Result<TensorDef> {
    let name = t.string(3, "tensor name")?.unwrap_or_default();
    let shape = t
        .i32s(0, "tensor shape")?
        .into_iter()
        .map(|d| {
            usize::try_from(d)
                .map_err(|_| malformed(format!("`{name}`: dimension {d} in its shape")))
        })
        .collect::<Result<Vec<_>>>()?;
    if element_count(&shape).is_none() {
        return Err(malformed(format!(
            "`{name}`: shape {shape:?} has more than {MAX_TENSOR_ELEMENTS} elements"
        )));
    }
    let dtype = DType::from_code(t.u8(1, 0, "tensor type")?);
    let buffer = t.u32(2, 0, "tensor buffer")? as usize;
    let data = match buffers.get(buffer) {
        // Buffer 0 is the schema's "no data" sentinel.
        _ if buffer == 0 => None,
        None => {
            return Err(malformed(format!(
                "`{name}`: buffer {buffer} of {}",
                buffers.len()
            )))
        }
        Some(b) => buffer_bytes(b, file).map_err(|e| e.context(format!("`{name}`")))?,
    };
    let sparsity = match t.table(6, "sparsity")? {
        Some(s) => Some(sparsity(&s).map_err(|e| e.context(format!("`{name}` sparsity")))?),
        None => None,
    };
    Ok(TensorDef {
        name,
        shape,
        dtype,
        data,
        sparsity,
    })
}

/// A buffer's bytes: inline in the flatbuffer, or (files over 2 GB) at an offset after it.
fn buffer_bytes(b: &Table, file: &[u8]) -> Result<Option<Vec<u8>>> {
    if let Some(data) = b.bytes(0, "buffer data")? {
        return Ok((!data.is_empty()).then(|| data.to_vec()));
    }
    let offset = b.u64(1, 0, "buffer offset")?;
    let size = b.u64(2, 0, "buffer size")?;
    if offset <= 1 || size == 0 {
        return Ok(None);
    }
    let (offset, size) = (offset as usize, size as usize);
    file.get(offset..offset.saturating_add(size))
        .map(|s| Some(s.to_vec()))
        .ok_or_else(|| {
            malformed(format!(
                "buffer of {size} bytes at {offset} leaves the file"
            ))
        })
}

fn sparsity(s: &Table) -> Result<Sparsity> {
    let dims = s
        .tables(2, "dimension metadata")?
        .iter()
        .map(|d| {
            let format = d.u8(0, 0, "dimension format")?;
            if format == 0 {
                let size = d.i32(1, 0, "dense size")?;
                return usize::try_from(size)
                    .map(SparseDim::Dense)
                    .map_err(|_| malformed(format!("dense size {size}")));
            }
            let segments = index_vector(d, 2, "array segments")?;
            let indices = index_vector(d, 4, "array indices")?;
            Ok(SparseDim::Csr { segments, indices })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Sparsity {
        traversal_order: s.i32s(0, "traversal order")?,
        block_map: s.i32s(1, "block map")?,
        dims,
    })
}

/// A `SparseIndexVector` union (type at field `id`, value at `id + 1`) as indices.
fn index_vector(d: &Table, id: usize, what: &str) -> Result<Vec<usize>> {
    let kind = d.u8(id, 0, what)?;
    let table = d
        .table(id + 1, what)?
        .ok_or_else(|| malformed(format!("{what} missing")))?;
    Ok(match kind {
        1 => table
            .i32s(0, what)?
            .into_iter()
            .map(|v| usize::try_from(v).map_err(|_| malformed(format!("{what}: index {v}"))))
            .collect::<Result<Vec<_>>>()?,
        2 => table.u16s(0, what)?.into_iter().map(usize::from).collect(),
        3 => table
            .bytes(0, what)?
            .unwrap_or_default()
            .iter()
            .map(|&b| b as usize)
            .collect(),
        k => return Err(malformed(format!("{what}: index vector type {k}"))),
    })
}

fn window(o: &Table, padding_id: usize, what: &str) -> Result<(Padding, (usize, usize))> {
    let padding = match o.u8(padding_id, 0, what)? {
        0 => Padding::Same,
        1 => Padding::Valid,
        p => return Err(malformed(format!("{what}: padding code {p}"))),
    };
    let positive = |v: i32| -> Result<usize> {
        usize::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| malformed(format!("{what}: stride or size {v}")))
    };
    let stride_w = positive(o.i32(padding_id + 1, 1, what)?)?;
    let stride_h = positive(o.i32(padding_id + 2, 1, what)?)?;
    Ok((padding, (stride_h, stride_w)))
}

fn dilation(o: &Table, w_id: usize, what: &str) -> Result<(usize, usize)> {
    let d = |id| -> Result<usize> {
        let v = o.i32(id, 1, what)?;
        usize::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| malformed(format!("{what}: dilation {v}")))
    };
    Ok((d(w_id + 1)?, d(w_id)?))
}

fn options(code: i32, o: Option<Table>, what: &str) -> Result<Options> {
    use opcode::*;
    let Some(o) = o else {
        // Every option field has a default, so an absent table means "all defaults".
        return Ok(match code {
            ADD => Options::Add {
                activation: Activation::None,
            },
            RESHAPE => Options::Reshape {
                new_shape: Vec::new(),
            },
            CONV_2D | DEPTHWISE_CONV_2D | MAX_POOL_2D | CONCATENATION | DEPTH_TO_SPACE
            | RESIZE_BILINEAR => {
                return Err(malformed(format!("{what} ({}) has no options", name(code))))
            }
            _ => Options::None,
        });
    };
    let act = |id| -> Result<Activation> { Activation::from_code(o.u8(id, 0, what)?, what) };
    Ok(match code {
        CONV_2D => {
            let (padding, stride) = window(&o, 0, what)?;
            Options::Conv {
                window: Window {
                    padding,
                    stride,
                    dilation: dilation(&o, 4, what)?,
                },
                activation: act(3)?,
            }
        }
        DEPTHWISE_CONV_2D => {
            let (padding, stride) = window(&o, 0, what)?;
            let mult = o.i32(3, 1, what)?;
            Options::Depthwise {
                window: Window {
                    padding,
                    stride,
                    dilation: dilation(&o, 5, what)?,
                },
                depth_multiplier: usize::try_from(mult)
                    .map_err(|_| malformed(format!("{what}: depth multiplier {mult}")))?,
                activation: act(4)?,
            }
        }
        MAX_POOL_2D => {
            let (padding, stride) = window(&o, 0, what)?;
            let size = |id| -> Result<usize> {
                let v = o.i32(id, 1, what)?;
                usize::try_from(v)
                    .ok()
                    .filter(|&v| v > 0)
                    .ok_or_else(|| malformed(format!("{what}: filter size {v}")))
            };
            Options::Pool {
                window: Window {
                    padding,
                    stride,
                    dilation: (1, 1),
                },
                filter: (size(4)?, size(3)?),
                activation: act(5)?,
            }
        }
        ADD => Options::Add {
            activation: act(0)?,
        },
        CONCATENATION => Options::Concat {
            axis: o.i32(0, 0, what)?,
            activation: act(1)?,
        },
        RESIZE_BILINEAR => Options::Resize {
            align_corners: o.bool(2, what)?,
            half_pixel_centers: o.bool(3, what)?,
        },
        DEPTH_TO_SPACE => {
            let b = o.i32(0, 0, what)?;
            Options::DepthToSpace {
                block: usize::try_from(b)
                    .ok()
                    .filter(|&b| b > 0)
                    .ok_or_else(|| malformed(format!("{what}: block size {b}")))?,
            }
        }
        RESHAPE => Options::Reshape {
            new_shape: o.i32s(0, what)?,
        },
        _ => Options::None,
    })
}
