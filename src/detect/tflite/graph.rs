//! The interpreter: loads a model, folds its constant ops, checks every shape, then runs.
//!
//! Why one file past 600 lines: loading is one pass (`Builder`) over the model's operators in
//! order, each operator checked against the shapes the ones before it produced and lowered to a
//! kernel step, and the run walks those steps; the per-operator arms share the builder's shape
//! table and constant folding, so they stay in one `match`. The kernels themselves live in
//! `kernels/`, the FlatBuffers tables in `schema.rs`.

use std::path::Path;
use std::sync::Arc;

use candle_core::Tensor;

use super::kernels::conv::Conv2d;
use super::kernels::depthwise::Depthwise;
use super::kernels::elementwise::AddAct;
use super::kernels::spatial::{DepthToSpace, MaxPool, Pad, ResizeBilinear};
use super::schema::{self, opcode, DType, ModelDef, OpDef, Options};
use super::sparse::densify;
use super::TfliteError;

type Result<T> = std::result::Result<T, TfliteError>;

/// A graph input or output.
#[derive(Clone, Debug, PartialEq)]
pub struct Port {
    pub name: String,
    pub shape: Vec<usize>,
    tensor: usize,
}

/// What an observer of [`Interpreter::run_observed`] learns about each executed op.
#[derive(Clone, Debug)]
pub struct StepInfo {
    /// Position in the file's operator list (constant ops are folded, so some are skipped).
    pub op_index: usize,
    pub op: String,
    /// Name of the output tensor.
    pub output: String,
}

/// A constant tensor's contents.
#[derive(Clone, Debug)]
enum Const {
    F32(Vec<f32>),
    /// Raw IEEE half bits.
    F16(Vec<u16>),
    I32(Vec<i32>),
}

#[derive(Clone, Debug)]
enum Kernel {
    Conv(Arc<Conv2d>),
    Depthwise(Arc<Depthwise>),
    Add(AddAct),
    Pad(Pad),
    MaxPool(MaxPool),
    Resize(ResizeBilinear),
    DepthToSpace(DepthToSpace),
    Reshape(Vec<usize>),
    Concat(usize),
    Logistic,
}

#[derive(Clone, Debug)]
struct Step {
    info: StepInfo,
    kernel: Kernel,
    inputs: Vec<usize>,
    output: usize,
    /// Activations no later step reads: dropped after this one to bound memory.
    free_after: Vec<usize>,
}

/// A loaded model, ready to run on CPU tensors.
#[derive(Clone, Debug)]
pub struct Interpreter {
    steps: Vec<Step>,
    inputs: Vec<Port>,
    outputs: Vec<Port>,
    num_tensors: usize,
}

impl Interpreter {
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|error| TfliteError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_bytes(&bytes).map_err(|e| e.context(path.display().to_string()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Builder::new(schema::parse(bytes)?)?.build()
    }

    pub fn inputs(&self) -> &[Port] {
        &self.inputs
    }

    pub fn outputs(&self) -> &[Port] {
        &self.outputs
    }

    /// The same model computing only the outputs numbered in `keep` (in that order): every op
    /// that feeds none of them is dropped. BlazePose's landmark model spends about a third of
    /// its time on a segmentation mask the pose pipeline never reads.
    pub fn pruned(&self, keep: &[usize]) -> Result<Self> {
        let outputs = keep
            .iter()
            .map(|&k| {
                self.outputs.get(k).cloned().ok_or_else(|| {
                    TfliteError::Input(format!("output {k} of {}", self.outputs.len()))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut needed = vec![false; self.num_tensors];
        for p in &outputs {
            needed[p.tensor] = true;
        }
        let mut steps: Vec<Step> = Vec::new();
        for step in self.steps.iter().rev() {
            if needed[step.output] {
                for &i in &step.inputs {
                    needed[i] = true;
                }
                steps.push(step.clone());
            }
        }
        steps.reverse();
        let output_ids: Vec<usize> = outputs.iter().map(|p| p.tensor).collect();
        plan_frees(&mut steps, &output_ids);
        Ok(Self {
            steps,
            inputs: self.inputs.clone(),
            outputs,
            num_tensors: self.num_tensors,
        })
    }

    /// How many ops a run executes (constant ops folded at load are not counted).
    pub fn num_steps(&self) -> usize {
        self.steps.len()
    }

    /// Runs the graph on NHWC f32 CPU tensors, one per input, returning the outputs in order.
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        self.run_observed(inputs, |_, _| {})
    }

    /// [`Self::run`], calling `observe` with every op's output (for tracing and tests).
    pub fn run_observed(
        &self,
        inputs: &[Tensor],
        mut observe: impl FnMut(&StepInfo, &Tensor),
    ) -> Result<Vec<Tensor>> {
        if inputs.len() != self.inputs.len() {
            return Err(TfliteError::Input(format!(
                "the model takes {} inputs, {} given",
                self.inputs.len(),
                inputs.len()
            )));
        }
        let mut values: Vec<Option<Tensor>> = vec![None; self.num_tensors];
        for (port, t) in self.inputs.iter().zip(inputs) {
            if t.dims() != port.shape.as_slice() || !t.device().is_cpu() {
                return Err(TfliteError::Input(format!(
                    "input `{}` must be a CPU tensor of shape {:?}, got {:?} on {:?}",
                    port.name,
                    port.shape,
                    t.dims(),
                    t.device()
                )));
            }
            values[port.tensor] = Some(t.to_dtype(candle_core::DType::F32)?.contiguous()?);
        }
        for step in &self.steps {
            let args = step
                .inputs
                .iter()
                .map(|&i| values[i].as_ref().expect("scheduled after its producer"))
                .collect::<Vec<_>>();
            let out = step.kernel.run(&args).map_err(|e| {
                TfliteError::from(e).context(format!(
                    "operator {} ({} -> `{}`)",
                    step.info.op_index, step.info.op, step.info.output
                ))
            })?;
            observe(&step.info, &out);
            values[step.output] = Some(out);
            for &i in &step.free_after {
                values[i] = None;
            }
        }
        Ok(self
            .outputs
            .iter()
            .map(|p| values[p.tensor].clone().expect("outputs are never freed"))
            .collect())
    }
}

impl Kernel {
    fn run(&self, args: &[&Tensor]) -> candle_core::Result<Tensor> {
        let x = args[0];
        match self {
            Kernel::Conv(op) => x.apply_op1_no_bwd(op.as_ref()),
            Kernel::Depthwise(op) => x.apply_op1_no_bwd(op.as_ref()),
            Kernel::Add(op) => x.apply_op2_no_bwd(args[1], op),
            Kernel::Pad(op) => x.apply_op1_no_bwd(op),
            Kernel::MaxPool(op) => x.apply_op1_no_bwd(op),
            Kernel::Resize(op) => x.apply_op1_no_bwd(op),
            Kernel::DepthToSpace(op) => x.apply_op1_no_bwd(op),
            // Our tensors are NHWC and contiguous, which is TFLite's order: a plain reshape.
            Kernel::Reshape(shape) => x.reshape(shape.as_slice()),
            Kernel::Concat(axis) => Tensor::cat(args, *axis),
            Kernel::Logistic => candle_nn::ops::sigmoid(x),
        }
    }
}

/// Turns a parsed model into steps: folds constants, builds kernels, infers and checks shapes.
struct Builder {
    def: ModelDef,
    consts: Vec<Option<Const>>,
    /// Shapes of the tensors known at run time (graph inputs and op outputs).
    shapes: Vec<Option<Vec<usize>>>,
    steps: Vec<Step>,
}

fn unsupported(msg: impl Into<String>) -> TfliteError {
    TfliteError::Unsupported(msg.into())
}

fn malformed(msg: impl Into<String>) -> TfliteError {
    TfliteError::Malformed(msg.into())
}

impl Builder {
    fn new(def: ModelDef) -> Result<Self> {
        let consts = def
            .tensors
            .iter()
            .map(|t| decode_const(t).map_err(|e| e.context(format!("tensor `{}`", t.name))))
            .collect::<Result<Vec<_>>>()?;
        let mut shapes = vec![None; def.tensors.len()];
        for &i in &def.inputs {
            let t = &def.tensors[i];
            if t.shape.is_empty() || t.shape.contains(&0) || t.dtype != DType::F32 {
                return Err(unsupported(format!(
                    "input `{}` of shape {:?} and type {:?} (need a fixed-size f32 input)",
                    t.name, t.shape, t.dtype
                )));
            }
            shapes[i] = Some(t.shape.clone());
        }
        Ok(Self {
            def,
            consts,
            shapes,
            steps: Vec::new(),
        })
    }

    fn build(mut self) -> Result<Interpreter> {
        let ops = std::mem::take(&mut self.def.ops);
        for (k, op) in ops.iter().enumerate() {
            let what = format!(
                "operator {k} ({}{})",
                opcode::name(op.code),
                op.outputs
                    .first()
                    .map(|&o| format!(" -> `{}`", self.def.tensors[o].name))
                    .unwrap_or_default()
            );
            self.op(k, op).map_err(|e| e.context(what))?;
        }
        let port = |i: usize, shapes: &[Option<Vec<usize>>]| -> Result<Port> {
            let t = &self.def.tensors[i];
            let shape = shapes[i]
                .clone()
                .ok_or_else(|| malformed(format!("output `{}` is never computed", t.name)))?;
            Ok(Port {
                name: t.name.clone(),
                shape,
                tensor: i,
            })
        };
        let inputs = self
            .def
            .inputs
            .iter()
            .map(|&i| port(i, &self.shapes))
            .collect::<Result<Vec<_>>>()?;
        let outputs = self
            .def
            .outputs
            .iter()
            .map(|&i| port(i, &self.shapes))
            .collect::<Result<Vec<_>>>()?;
        let output_ids: Vec<usize> = outputs.iter().map(|p| p.tensor).collect();
        plan_frees(&mut self.steps, &output_ids);
        Ok(Interpreter {
            steps: self.steps,
            inputs,
            outputs,
            num_tensors: self.def.tensors.len(),
        })
    }

    fn input(&self, op: &OpDef, i: usize) -> Result<usize> {
        op.inputs
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| malformed(format!("input {i} is missing")))
    }

    /// A run-time (non-constant) input and its shape.
    fn activation(&self, op: &OpDef, i: usize) -> Result<(usize, Vec<usize>)> {
        let t = self.input(op, i)?;
        match &self.shapes[t] {
            Some(shape) => Ok((t, shape.clone())),
            None if self.consts[t].is_some() => Err(unsupported(format!(
                "input {i} (`{}`) is a constant; only weights may be",
                self.def.tensors[t].name
            ))),
            None => Err(malformed(format!(
                "input {i} (`{}`) is read before any op writes it",
                self.def.tensors[t].name
            ))),
        }
    }

    fn const_f32(&self, op: &OpDef, i: usize) -> Result<(&[f32], &[usize])> {
        let t = self.input(op, i)?;
        let def = &self.def.tensors[t];
        match &self.consts[t] {
            Some(Const::F32(v)) => Ok((v, &def.shape)),
            Some(_) => Err(unsupported(format!(
                "weights `{}` are {:?}, not float32",
                def.name, def.dtype
            ))),
            None => Err(unsupported(format!(
                "weights `{}` are computed at run time",
                def.name
            ))),
        }
    }

    fn const_i32(&self, op: &OpDef, i: usize) -> Result<&[i32]> {
        let t = self.input(op, i)?;
        match &self.consts[t] {
            Some(Const::I32(v)) => Ok(v),
            _ => Err(unsupported(format!(
                "`{}` must be a constant int32 tensor",
                self.def.tensors[t].name
            ))),
        }
    }

    fn optional_bias(&self, op: &OpDef) -> Result<Option<&[f32]>> {
        match op.inputs.get(2).copied().flatten() {
            Some(_) => Ok(Some(self.const_f32(op, 2)?.0)),
            None => Ok(None),
        }
    }

    fn op(&mut self, k: usize, op: &OpDef) -> Result<()> {
        let &[output] = op.outputs.as_slice() else {
            return Err(unsupported(format!("{} outputs", op.outputs.len())));
        };
        match op.code {
            opcode::DEQUANTIZE | opcode::DENSIFY => return self.fold(op, output),
            _ => {}
        }
        let (x, x_shape) = self.activation(op, 0)?;
        let mut inputs = vec![x];
        let (kernel, shape) = match (&op.options, op.code) {
            (Options::Conv { window, activation }, opcode::CONV_2D) => {
                let (w, w_shape) = self.const_f32(op, 1)?;
                let conv = Conv2d::new(w, w_shape, self.optional_bias(op)?, *window, *activation)
                    .map_err(malformed)?;
                let (n, h, wd, c) = nhwc(&x_shape)?;
                if c != conv.in_channels() {
                    return Err(malformed(format!(
                        "{c} input channels, weights {w_shape:?}"
                    )));
                }
                let ((oh, ow), _) = conv.geometry(h, wd).ok_or_else(|| {
                    malformed(format!("input {x_shape:?} smaller than the kernel"))
                })?;
                let shape = vec![n, oh, ow, conv.out_channels()];
                (Kernel::Conv(Arc::new(conv)), shape)
            }
            (
                Options::Depthwise {
                    window,
                    depth_multiplier,
                    activation,
                },
                opcode::DEPTHWISE_CONV_2D,
            ) => {
                let (w, w_shape) = self.const_f32(op, 1)?;
                let (n, h, wd, c) = nhwc(&x_shape)?;
                if *depth_multiplier != 1 {
                    return Err(unsupported(format!("depth multiplier {depth_multiplier}")));
                }
                let dw = Depthwise::new(w, w_shape, self.optional_bias(op)?, *window, *activation)
                    .map_err(malformed)?;
                if c != dw.channels() {
                    return Err(malformed(format!("{c} channels, weights {w_shape:?}")));
                }
                let ((oh, ow), _) = dw.geometry(h, wd).ok_or_else(|| {
                    malformed(format!("input {x_shape:?} smaller than the kernel"))
                })?;
                (Kernel::Depthwise(Arc::new(dw)), vec![n, oh, ow, c])
            }
            (Options::Add { activation }, opcode::ADD) => {
                let (y, y_shape) = self.activation(op, 1)?;
                if y_shape != x_shape {
                    return Err(unsupported(format!(
                        "broadcasting ADD of {x_shape:?} and {y_shape:?}"
                    )));
                }
                inputs.push(y);
                (Kernel::Add(AddAct(*activation)), x_shape)
            }
            (_, opcode::PAD) => {
                let pads = self.const_i32(op, 1)?;
                if pads.len() != 2 * x_shape.len() || pads.iter().any(|&p| p < 0) {
                    return Err(malformed(format!(
                        "paddings {pads:?} for a rank-{} input",
                        x_shape.len()
                    )));
                }
                let pad = Pad(pads
                    .chunks(2)
                    .map(|p| (p[0] as usize, p[1] as usize))
                    .collect());
                let shape = pad.out_shape(&x_shape).expect("rank checked");
                (Kernel::Pad(pad), shape)
            }
            (
                Options::Pool {
                    window,
                    filter,
                    activation,
                },
                opcode::MAX_POOL_2D,
            ) => {
                let pool = MaxPool {
                    filter: *filter,
                    window: *window,
                    activation: *activation,
                };
                let (n, h, w, c) = nhwc(&x_shape)?;
                let ((oh, ow), _) = pool.geometry(h, w).ok_or_else(|| {
                    malformed(format!("input {x_shape:?} smaller than the window"))
                })?;
                (Kernel::MaxPool(pool), vec![n, oh, ow, c])
            }
            (
                Options::Resize {
                    align_corners,
                    half_pixel_centers,
                },
                opcode::RESIZE_BILINEAR,
            ) => {
                let size = self.const_i32(op, 1)?;
                let (n, _, _, c) = nhwc(&x_shape)?;
                let &[oh, ow] = size else {
                    return Err(malformed(format!("resize size {size:?}")));
                };
                if oh <= 0 || ow <= 0 {
                    return Err(malformed(format!("resize size {size:?}")));
                }
                let resize = ResizeBilinear {
                    size: (oh as usize, ow as usize),
                    align_corners: *align_corners,
                    half_pixel_centers: *half_pixel_centers,
                };
                (Kernel::Resize(resize), vec![n, oh as usize, ow as usize, c])
            }
            (Options::DepthToSpace { block }, opcode::DEPTH_TO_SPACE) => {
                let (n, h, w, c) = nhwc(&x_shape)?;
                let area = block.checked_mul(*block).filter(|&a| a <= c);
                let Some(area) = area.filter(|&a| c % a == 0) else {
                    return Err(malformed(format!("{c} channels for block {block}")));
                };
                // h × block × w × block × c / area has the input's element count.
                let shape = vec![n, h * block, w * block, c / area];
                (Kernel::DepthToSpace(DepthToSpace(*block)), shape)
            }
            (Options::Reshape { new_shape }, opcode::RESHAPE) => {
                let target = match op.inputs.get(1).copied().flatten() {
                    Some(_) => self.const_i32(op, 1)?.to_vec(),
                    None => new_shape.clone(),
                };
                let shape = resolve_reshape(&x_shape, &target)?;
                (Kernel::Reshape(shape.clone()), shape)
            }
            (Options::Concat { axis, activation }, opcode::CONCATENATION) => {
                if *activation != schema::Activation::None {
                    return Err(unsupported("a fused activation on CONCATENATION"));
                }
                let rank = x_shape.len() as i32;
                let axis = if *axis < 0 { axis + rank } else { *axis };
                if !(0..rank).contains(&axis) {
                    return Err(malformed(format!("axis {axis} for rank {rank}")));
                }
                let axis = axis as usize;
                let mut shape = x_shape.clone();
                for i in 1..op.inputs.len() {
                    let (t, s) = self.activation(op, i)?;
                    let fits = s.len() == shape.len()
                        && s.iter()
                            .zip(&shape)
                            .enumerate()
                            .all(|(d, (a, b))| d == axis || a == b);
                    if !fits {
                        return Err(malformed(format!("cannot concatenate {s:?} to {shape:?}")));
                    }
                    shape[axis] += s[axis];
                    inputs.push(t);
                }
                (Kernel::Concat(axis), shape)
            }
            (_, opcode::LOGISTIC) => (Kernel::Logistic, x_shape),
            (_, code) => {
                return Err(unsupported(format!(
                    "operator {} is not implemented (this interpreter covers the BlazePose graphs)",
                    opcode::name(code)
                )))
            }
        };
        if schema::element_count(&shape).is_none() {
            return Err(malformed(format!(
                "computed output shape {shape:?} has more than {} elements",
                schema::MAX_TENSOR_ELEMENTS
            )));
        }
        let declared = &self.def.tensors[output].shape;
        if !declared.is_empty() && *declared != shape {
            return Err(malformed(format!(
                "computed output shape {shape:?}, the file declares {declared:?}"
            )));
        }
        self.shapes[output] = Some(shape);
        self.steps.push(Step {
            info: StepInfo {
                op_index: k,
                op: opcode::name(op.code),
                output: self.def.tensors[output].name.clone(),
            },
            kernel,
            inputs,
            output,
            free_after: Vec::new(),
        });
        Ok(())
    }

    /// DEQUANTIZE (float16 -> f32) and DENSIFY of constant weights, evaluated now.
    fn fold(&mut self, op: &OpDef, output: usize) -> Result<()> {
        let input = self.input(op, 0)?;
        let def = &self.def.tensors[input];
        let value = match (op.code, &self.consts[input]) {
            (opcode::DEQUANTIZE, Some(Const::F16(bits))) => Const::F32(
                bits.iter()
                    .map(|&b| half::f16::from_bits(b).to_f32())
                    .collect(),
            ),
            (opcode::DEQUANTIZE, Some(Const::F32(v))) => Const::F32(v.clone()),
            (opcode::DENSIFY, Some(c)) => {
                let sparsity = def
                    .sparsity
                    .as_ref()
                    .ok_or_else(|| malformed(format!("`{}` has no sparsity", def.name)))?;
                let dense = |e: String| malformed(format!("`{}`: {e}", def.name));
                match c {
                    Const::F16(v) => Const::F16(densify(v, &def.shape, sparsity).map_err(dense)?),
                    Const::F32(v) => Const::F32(densify(v, &def.shape, sparsity).map_err(dense)?),
                    Const::I32(v) => Const::I32(densify(v, &def.shape, sparsity).map_err(dense)?),
                }
            }
            _ => {
                return Err(unsupported(format!(
                    "{} of a tensor computed at run time (only weights are dequantized)",
                    opcode::name(op.code)
                )))
            }
        };
        let len = match &value {
            Const::F32(v) => v.len(),
            Const::F16(v) => v.len(),
            Const::I32(v) => v.len(),
        };
        let out_def = &self.def.tensors[output];
        if len != out_def.shape.iter().product::<usize>() {
            return Err(malformed(format!(
                "{len} values for `{}` of shape {:?}",
                out_def.name, out_def.shape
            )));
        }
        self.consts[output] = Some(value);
        Ok(())
    }
}

/// Marks, for each step, the activations it reads for the last time (graph outputs are kept).
fn plan_frees(steps: &mut [Step], outputs: &[usize]) {
    let mut last: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for (s, step) in steps.iter_mut().enumerate() {
        step.free_after.clear();
        for &i in &step.inputs {
            last.insert(i, s);
        }
    }
    for o in outputs {
        last.remove(o);
    }
    for (i, s) in last {
        steps[s].free_after.push(i);
    }
}

fn nhwc(shape: &[usize]) -> Result<(usize, usize, usize, usize)> {
    match *shape {
        [n, h, w, c] => Ok((n, h, w, c)),
        _ => Err(malformed(format!("expected an NHWC tensor, got {shape:?}"))),
    }
}

/// A reshape target with at most one `-1`, resolved against the input's element count.
fn resolve_reshape(input: &[usize], target: &[i32]) -> Result<Vec<usize>> {
    let count: usize = input.iter().product();
    let bad = || malformed(format!("cannot reshape {input:?} to {target:?}"));
    let known: usize = target
        .iter()
        .filter(|&&d| d >= 0)
        .try_fold(1usize, |n, &d| n.checked_mul(d as usize))
        .ok_or_else(bad)?;
    let free = target.iter().filter(|&&d| d == -1).count();
    if free > 1 || target.iter().any(|&d| d < -1) {
        return Err(bad());
    }
    let shape: Vec<usize> = target
        .iter()
        .map(|&d| {
            if d == -1 {
                count / known.max(1)
            } else {
                d as usize
            }
        })
        .collect();
    if schema::element_count(&shape) != Some(count) {
        return Err(bad());
    }
    Ok(shape)
}

/// A tensor's constant contents, typed; sparse tensors keep their stored values (DENSIFY
/// expands them).
fn decode_const(t: &schema::TensorDef) -> Result<Option<Const>> {
    let Some(bytes) = &t.data else {
        return Ok(None);
    };
    let size = t
        .dtype
        .size()
        .ok_or_else(|| unsupported(format!("constant of type {:?}", t.dtype)))?;
    if bytes.len() % size != 0 {
        return Err(malformed(format!("{} bytes of {:?}", bytes.len(), t.dtype)));
    }
    if t.sparsity.is_none() && bytes.len() / size != t.shape.iter().product::<usize>() {
        return Err(malformed(format!(
            "{} values for shape {:?}",
            bytes.len() / size,
            t.shape
        )));
    }
    let words4 = || bytes.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]);
    Ok(Some(match t.dtype {
        DType::F32 => Const::F32(words4().map(f32::from_le_bytes).collect()),
        DType::I32 => Const::I32(words4().map(i32::from_le_bytes).collect()),
        DType::F16 => Const::F16(
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect(),
        ),
        DType::Other(_) => unreachable!("size() is None for other types"),
    }))
}
