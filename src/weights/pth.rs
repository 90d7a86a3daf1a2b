//! Reading PyTorch `state_dict` checkpoints (`torch.save` output) without Python and without
//! executing anything.
//!
//! Two containers exist:
//! * zip (torch >= 1.6): `<name>/data.pkl` is the pickled state_dict, `<name>/data/<key>` holds
//!   each storage's raw bytes, `<name>/byteorder` (optional) says "little" or "big".
//! * legacy (torch < 1.6): five pickles in a row (magic number, protocol version, sys info,
//!   the state_dict, the list of storage keys), then for each key in that list an 8-byte
//!   little-endian element count followed by the storage's bytes.
//!
//! In both, a tensor is pickled as a call to `torch._utils._rebuild_tensor_v2(storage, offset,
//! size, stride, ...)` whose storage argument is a persistent id
//! `('storage', <storage type>, key, location, numel[, view])`. The pickle reader records those
//! calls instead of making them (see [`super::pickle`]); this module turns each record into a
//! CPU tensor by gathering the described strided view out of the storage bytes.
//!
//! Why one file past 600 lines: the two containers (zip, legacy), the storage references and the
//! strided tensor gather are sections of one reader that share its error type, its limits
//! against hostile files and the borrowed storage map; most of the length is those limits and
//! their reasons. The pickle interpreter, the part that could stand alone, is `pickle.rs`.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use super::pickle::{self, Object, Unpickled, Value};

/// Errors from [`load_pth`] / [`load_pth_bytes`]. Messages carry their cause's text, so
/// `to_string()` alone tells the whole story.
#[derive(Debug, thiserror::Error)]
pub enum PthError {
    #[error("cannot read checkpoint '{path}': {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("checkpoint '{path}': {error}")]
    InFile { path: PathBuf, error: Box<PthError> },
    #[error("not a PyTorch checkpoint: {0}")]
    NotACheckpoint(String),
    #[error("invalid zip archive: {0}")]
    Zip(zip::result::ZipError),
    #[error("{0}")]
    Pickle(pickle::PickleError),
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    #[error("unsupported checkpoint content: {0}")]
    Unsupported(String),
    #[error("tensor '{key}': {error}")]
    Tensor { key: String, error: Box<PthError> },
    #[error("cannot create tensor: {0}")]
    Candle(candle_core::Error),
}

// Hand-written rather than `#[from]`: that would also mark the inner error as the `source`,
// and error reporters (anyhow's `{:#}`) would then print its text twice.
impl From<pickle::PickleError> for PthError {
    fn from(error: pickle::PickleError) -> Self {
        PthError::Pickle(error)
    }
}

impl From<zip::result::ZipError> for PthError {
    fn from(error: zip::result::ZipError) -> Self {
        PthError::Zip(error)
    }
}

impl From<candle_core::Error> for PthError {
    fn from(error: candle_core::Error) -> Self {
        PthError::Candle(error)
    }
}

type Result<T> = std::result::Result<T, PthError>;

/// Read a PyTorch state_dict saved with torch.save, either the modern zip format (>= 1.6) or the
/// legacy pre-1.6 non-zip format. Returns the entries in file order. Never executes anything.
pub fn load_pth(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let bytes = std::fs::read(path).map_err(|error| PthError::Io {
        path: path.to_owned(),
        error,
    })?;
    load_pth_bytes(&bytes).map_err(|error| PthError::InFile {
        path: path.to_owned(),
        error: Box::new(error),
    })
}

/// [`load_pth`] on a checkpoint already in memory.
pub fn load_pth_bytes(bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        load_zip(bytes)
    } else if bytes.first() == Some(&PICKLE_PROTO) {
        load_legacy(bytes)
    } else {
        Err(PthError::NotACheckpoint(
            "expected a zip archive (torch >= 1.6) or a pickle stream (legacy torch.save)".into(),
        ))
    }
}

/// Every pickle written by torch.save starts with the PROTO opcode.
const PICKLE_PROTO: u8 = 0x80;

const REBUILD_TENSOR: &str = "torch._utils._rebuild_tensor";
const REBUILD_TENSOR_V2: &str = "torch._utils._rebuild_tensor_v2";
/// Used by newer torch for dtypes that have no legacy typed-storage class (uint16/32/64,
/// float8...): the storage is untyped and the dtype is an extra argument.
const REBUILD_TENSOR_V3: &str = "torch._utils._rebuild_tensor_v3";
const REBUILD_PARAMETER: &str = "torch._utils._rebuild_parameter";
const REBUILD_PARAMETER_WITH_STATE: &str = "torch._utils._rebuild_parameter_with_state";

/// The only calls a state_dict pickle may contain (besides `collections.OrderedDict`).
const ALLOWED_CALLS: &[&str] = &[
    REBUILD_TENSOR,
    REBUILD_TENSOR_V2,
    REBUILD_TENSOR_V3,
    REBUILD_PARAMETER,
    REBUILD_PARAMETER_WITH_STATE,
];

/// Raw storage bytes by storage key: borrowed from the input (legacy) or read from the zip.
/// Keys (like every string taken from a pickle below) are borrowed, never copied per use: a
/// pickle can refer to one memoised string any number of times for a few bytes each.
type Storages<'a> = HashMap<&'a str, Cow<'a, [u8]>>;

// ---------------------------------------------------------------------------------------------
// Zip container

fn load_zip(bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))?;
    let prefix = archive_prefix(&archive)?;
    let pickle_bytes = read_entry(&mut archive, &format!("{prefix}data.pkl"), bytes.len())?;
    let little_endian = zip_byte_order(&mut archive, &prefix, bytes.len())?;
    let (state, _) = pickle::load(&pickle_bytes, 0, ALLOWED_CALLS)?;

    let mut storages = Storages::new();
    for key in storage_keys(&state)? {
        let data = read_entry(&mut archive, &format!("{prefix}data/{key}"), bytes.len())?;
        storages.insert(key, Cow::Owned(data));
    }
    build_state_dict(&state, &storages, little_endian)
}

/// The archive's top folder including its trailing '/' (torch names it after the file).
fn archive_prefix<R: Read + std::io::Seek>(archive: &zip::ZipArchive<R>) -> Result<String> {
    archive
        .file_names()
        .filter_map(|name| name.ok())
        .find_map(|name| {
            let prefix = name.strip_suffix("data.pkl")?;
            // Only `<folder>/data.pkl` (or a bare `data.pkl`), not e.g. `x/y/data.pkl`.
            let depth = prefix.matches('/').count();
            ((depth == 0 && prefix.is_empty()) || (depth == 1 && prefix.ends_with('/')))
                .then(|| prefix.to_owned())
        })
        .ok_or_else(|| PthError::Malformed("zip archive has no '<name>/data.pkl'".into()))
}

/// Newer torch versions record the storage byte order; older zip checkpoints are all
/// little-endian.
fn zip_byte_order<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    prefix: &str,
    input_len: usize,
) -> Result<bool> {
    let name = format!("{prefix}byteorder");
    if archive.index_for_name(&name).is_none() {
        return Ok(true);
    }
    let order = read_entry(archive, &name, input_len)?;
    match order.trim_ascii() {
        b"little" => Ok(true),
        b"big" => Ok(false),
        other => Err(PthError::Malformed(format!(
            "unknown byte order {:?}",
            String::from_utf8_lossy(other)
        ))),
    }
}

/// The most one archive member may decompress to: 1024 times the whole file, and never less
/// than 256 MiB. torch stores its members uncompressed; a deflated member that expands further
/// than that is a zip bomb, refused before it fills the memory.
fn max_entry_len(input_len: usize) -> u64 {
    (input_len as u64).saturating_mul(1024).max(256 << 20)
}

/// Reads one archive member. The reservation is capped by the input size so a forged size
/// field cannot trigger a huge allocation; the data itself is bounded by what the entry
/// actually decompresses to, and by [`max_entry_len`].
fn read_entry<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
    input_len: usize,
) -> Result<Vec<u8>> {
    let entry = match archive.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(PthError::Malformed(format!(
                "zip archive has no entry '{name}'"
            )))
        }
        Err(error) => return Err(error.into()),
    };
    let declared = entry.size();
    let limit = max_entry_len(input_len);
    if declared > limit {
        return Err(PthError::Malformed(format!(
            "zip entry '{name}' declares {declared} bytes from a {input_len}-byte file \
             (more than {limit}): refusing a zip bomb"
        )));
    }
    let mut data = Vec::with_capacity(usize::try_from(declared).unwrap_or(0).min(input_len));
    entry
        .take(declared.min(limit))
        .read_to_end(&mut data)
        .map_err(|error| PthError::Malformed(format!("cannot read zip entry '{name}': {error}")))?;
    Ok(data)
}

// ---------------------------------------------------------------------------------------------
// Legacy container

/// `torch.serialization.MAGIC_NUMBER`, the first pickle of a legacy file.
const LEGACY_MAGIC: i128 = 0x1950a86a20f9469cfc6c;
/// `torch.serialization.PROTOCOL_VERSION`, the second pickle.
const LEGACY_PROTOCOL: i128 = 1001;

fn load_legacy(bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    let mut pos = 0;
    let magic = next_pickle(bytes, &mut pos, &[])?;
    if magic.root() != Value::Int(LEGACY_MAGIC) {
        return Err(PthError::NotACheckpoint(
            "pickle stream does not start with torch's magic number".into(),
        ));
    }
    let protocol = next_pickle(bytes, &mut pos, &[])?;
    if protocol.root() != Value::Int(LEGACY_PROTOCOL) {
        return Err(PthError::Unsupported(format!(
            "legacy checkpoint protocol {:?}, expected {LEGACY_PROTOCOL}",
            protocol.root()
        )));
    }
    let little_endian = legacy_byte_order(&next_pickle(bytes, &mut pos, &[])?)?;
    let state = next_pickle(bytes, &mut pos, ALLOWED_CALLS)?;
    let keys = next_pickle(bytes, &mut pos, &[])?;
    let data = bytes.get(pos..).unwrap_or_default();
    let storages = legacy_storages(&state, &keys, data)?;
    build_state_dict(&state, &storages, little_endian)
}

/// Reads the pickle starting at `*pos` and moves `*pos` past it.
fn next_pickle(bytes: &[u8], pos: &mut usize, allowed_calls: &[&str]) -> Result<Unpickled> {
    let (value, end) = pickle::load(bytes, *pos, allowed_calls)?;
    *pos = end;
    Ok(value)
}

/// The sys-info dict says whether the writing machine was little-endian.
fn legacy_byte_order(sys_info: &Unpickled) -> Result<bool> {
    let Some(Object::Dict(items)) = sys_info.object(sys_info.root()) else {
        return Err(PthError::Malformed("legacy sys-info is not a dict".into()));
    };
    let flag = items
        .iter()
        .find(|(key, _)| sys_info.as_str(*key) == Some("little_endian"))
        .map(|(_, value)| *value);
    match flag {
        None | Some(Value::Bool(true)) => Ok(true),
        Some(Value::Bool(false)) => Ok(false),
        Some(other) => Err(PthError::Malformed(format!(
            "legacy sys-info 'little_endian' is a {}",
            sys_info.type_name(other)
        ))),
    }
}

/// Splits the data section after the pickles into storages. Each record's length is an
/// element count, so the element size must come from how the state_dict refers to the key.
fn legacy_storages<'a>(
    state: &Unpickled,
    key_list: &'a Unpickled,
    data: &'a [u8],
) -> Result<Storages<'a>> {
    let elem_sizes = storage_elem_sizes(state)?;
    let keys = key_list
        .as_seq(key_list.root())
        .ok_or_else(|| PthError::Malformed("legacy storage key list is not a list".into()))?;
    let mut storages = Storages::new();
    let mut rest = data;
    for &key in keys {
        let key = key_list
            .as_str(key)
            .ok_or_else(|| PthError::Malformed("legacy storage key is not a string".into()))?;
        let elem_size = *elem_sizes.get(key).ok_or_else(|| {
            PthError::Malformed(format!(
                "storage '{key}' is listed but no tensor refers to it"
            ))
        })?;
        let (bytes, after) = split_legacy_record(rest, elem_size)
            .ok_or_else(|| PthError::Malformed(format!("data of storage '{key}' is truncated")))?;
        storages.insert(key, Cow::Borrowed(bytes));
        rest = after;
    }
    Ok(storages)
}

/// One `count (u64 LE) + count × elem_size bytes` record and what follows it; `None` if the
/// data is too short for what the count claims.
fn split_legacy_record(data: &[u8], elem_size: usize) -> Option<(&[u8], &[u8])> {
    let (count, rest) = data.split_first_chunk::<8>()?;
    let len = usize::try_from(u64::from_le_bytes(*count))
        .ok()?
        .checked_mul(elem_size)?;
    (len <= rest.len()).then(|| rest.split_at(len))
}

// ---------------------------------------------------------------------------------------------
// Storage references (the persistent ids)

/// Element types of torch storages and tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Elem {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U32,
    U16,
    U8,
    Bool,
}

impl Elem {
    fn size(self) -> usize {
        match self {
            Elem::F64 | Elem::I64 => 8,
            Elem::F32 | Elem::I32 | Elem::U32 => 4,
            Elem::F16 | Elem::BF16 | Elem::I16 | Elem::U16 => 2,
            Elem::I8 | Elem::U8 | Elem::Bool => 1,
        }
    }

    /// A `torch.<dtype>` global, as `_rebuild_tensor_v3` receives its dtype.
    fn from_dtype_name(name: &str) -> Option<Self> {
        Some(match name.strip_prefix("torch.")? {
            "float32" | "float" => Elem::F32,
            "float64" | "double" => Elem::F64,
            "float16" | "half" => Elem::F16,
            "bfloat16" => Elem::BF16,
            "int64" | "long" => Elem::I64,
            "int32" | "int" => Elem::I32,
            "int16" | "short" => Elem::I16,
            "int8" => Elem::I8,
            "uint32" => Elem::U32,
            "uint16" => Elem::U16,
            "uint8" => Elem::U8,
            "bool" => Elem::Bool,
            _ => return None,
        })
    }

    /// The candle dtype holding this type as is; `None` for the narrow ints, which are
    /// widened to I64 (most candle ops do not support I16/I32, and candle has no U16).
    fn candle_dtype(self) -> Option<DType> {
        match self {
            Elem::F32 => Some(DType::F32),
            Elem::F64 => Some(DType::F64),
            Elem::F16 => Some(DType::F16),
            Elem::BF16 => Some(DType::BF16),
            Elem::I64 => Some(DType::I64),
            Elem::U32 => Some(DType::U32),
            Elem::U8 | Elem::Bool => Some(DType::U8),
            Elem::I32 | Elem::I16 | Elem::U16 | Elem::I8 => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StorageType {
    Typed(Elem),
    /// `torch.UntypedStorage`: plain bytes; numel counts bytes.
    Untyped,
}

impl StorageType {
    /// From the storage class global, e.g. `torch.FloatStorage`. CUDA storages
    /// (`torch.cuda.FloatStorage`) hold the same bytes and load to the CPU just the same.
    fn from_global(name: &str) -> Result<Self> {
        let class = ["torch.cuda.", "torch.storage.", "torch."]
            .iter()
            .find_map(|module| name.strip_prefix(module));
        let elem = match class {
            Some("UntypedStorage" | "_UntypedStorage") => return Ok(StorageType::Untyped),
            Some("FloatStorage") => Elem::F32,
            Some("DoubleStorage") => Elem::F64,
            Some("HalfStorage") => Elem::F16,
            Some("BFloat16Storage") => Elem::BF16,
            Some("LongStorage") => Elem::I64,
            Some("IntStorage") => Elem::I32,
            Some("ShortStorage") => Elem::I16,
            Some("CharStorage") => Elem::I8,
            Some("ByteStorage") => Elem::U8,
            Some("BoolStorage") => Elem::Bool,
            _ => return Err(PthError::Unsupported(format!("storage type '{name}'"))),
        };
        Ok(StorageType::Typed(elem))
    }

    fn elem_size(self) -> usize {
        match self {
            StorageType::Typed(elem) => elem.size(),
            StorageType::Untyped => 1,
        }
    }
}

/// What a persistent id `('storage', type, key, location, numel[, view])` says.
struct StorageRef<'p> {
    key: &'p str,
    ty: StorageType,
    /// Length in the storage's own elements.
    numel: usize,
    /// Legacy storage views: `(offset, length)` in elements of the root storage.
    view: Option<(usize, usize)>,
}

impl<'p> StorageRef<'p> {
    fn parse(state: &'p Unpickled, pid: Value) -> Result<Self> {
        let bad = |what: &str| PthError::Malformed(format!("storage reference: {what}"));
        let items = state.as_seq(pid).ok_or_else(|| bad("not a tuple"))?;
        // The location ('cpu', 'cuda:0') is irrelevant: everything loads to the CPU.
        let (tag, ty, key, numel, view) = match items {
            [tag, ty, key, _location, numel] => (tag, ty, key, numel, None),
            [tag, ty, key, _location, numel, view] => (tag, ty, key, numel, Some(view)),
            _ => return Err(bad(&format!("{} fields, expected 5 or 6", items.len()))),
        };
        if state.as_str(*tag) != Some("storage") {
            return Err(bad("first field is not 'storage'"));
        }
        let Some(Object::Global(type_name)) = state.object(*ty) else {
            return Err(bad("storage type is not a global name"));
        };
        let view = match view {
            None | Some(Value::None) => None,
            Some(view) => Some(Self::parse_view(state, *view).ok_or_else(|| bad("bad view"))?),
        };
        Ok(StorageRef {
            key: state
                .as_str(*key)
                .ok_or_else(|| bad("key is not a string"))?,
            ty: StorageType::from_global(type_name)?,
            numel: as_usize(*numel).ok_or_else(|| bad("size is not a non-negative int"))?,
            view,
        })
    }

    /// `(view_key, offset, size)`; the view key only names the view, so it is not needed.
    fn parse_view(state: &Unpickled, view: Value) -> Option<(usize, usize)> {
        match state.as_seq(view)? {
            [_view_key, offset, size] => Some((as_usize(*offset)?, as_usize(*size)?)),
            _ => None,
        }
    }

    /// The bytes of the storage this reference can see.
    fn byte_range(&self) -> Option<std::ops::Range<usize>> {
        let elem_size = self.ty.elem_size();
        let (start, len) = self.view.unwrap_or((0, self.numel));
        let start = start.checked_mul(elem_size)?;
        Some(start..start.checked_add(len.checked_mul(elem_size)?)?)
    }
}

/// Every storage reference in the pickle, wherever it appears.
fn storage_refs(state: &Unpickled) -> Result<Vec<StorageRef<'_>>> {
    state
        .objects()
        .filter_map(|object| match object {
            Object::PersistentId(pid) => Some(StorageRef::parse(state, *pid)),
            _ => None,
        })
        .collect()
}

fn storage_keys(state: &Unpickled) -> Result<BTreeSet<&str>> {
    Ok(storage_refs(state)?.into_iter().map(|r| r.key).collect())
}

/// Element size of each storage key (legacy records count elements, not bytes).
fn storage_elem_sizes(state: &Unpickled) -> Result<HashMap<&str, usize>> {
    let mut sizes = HashMap::new();
    for storage in storage_refs(state)? {
        let size = storage.ty.elem_size();
        if *sizes.entry(storage.key).or_insert(size) != size {
            return Err(PthError::Malformed(format!(
                "storage '{}' is used with different element sizes",
                storage.key
            )));
        }
    }
    Ok(sizes)
}

fn as_usize(value: Value) -> Option<usize> {
    match value {
        Value::Int(i) => usize::try_from(i).ok(),
        _ => None,
    }
}

/// torch's own limit on tensor dimensions. Capping the rank keeps a hostile pickle from
/// handing thousands of tensors one shared, huge size tuple each.
const MAX_RANK: usize = 64;

/// A size or stride tuple.
fn as_dims(state: &Unpickled, value: Value) -> Option<Vec<usize>> {
    let items = state
        .as_seq(value)
        .filter(|items| items.len() <= MAX_RANK)?;
    items.iter().map(|&v| as_usize(v)).collect()
}

// ---------------------------------------------------------------------------------------------
// Tensors

/// A tensor as the checkpoint describes it: a strided view (in elements) into the part of a
/// storage that its storage reference can see.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TensorSpec<'p> {
    storage: &'p str,
    visible_bytes: std::ops::Range<usize>,
    elem: Elem,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

impl<'p> TensorSpec<'p> {
    /// Follows `_rebuild_parameter` wrappers down to the `_rebuild_tensor*` call.
    fn parse(state: &'p Unpickled, value: Value) -> Result<Self> {
        let mut value = value;
        // torch never nests parameters; the cap only stops a hostile chain of wrappers.
        for _ in 0..4 {
            let Some(Object::Call { func, args }) = state.object(value) else {
                return Err(PthError::Unsupported(format!(
                    "value is a {}, not a tensor",
                    state.type_name(value)
                )));
            };
            let args = state.as_seq(*args).unwrap_or_default();
            match func.as_str() {
                REBUILD_PARAMETER | REBUILD_PARAMETER_WITH_STATE => {
                    value = *args
                        .first()
                        .ok_or_else(|| PthError::Malformed("parameter without data".into()))?;
                }
                REBUILD_TENSOR => return Self::from_rebuild_args(state, args, 4, None),
                REBUILD_TENSOR_V2 => return Self::from_rebuild_args(state, args, 6, None),
                REBUILD_TENSOR_V3 => {
                    let dtype = args.get(6).and_then(|&v| match state.object(v) {
                        Some(Object::Global(name)) => Some(name.as_str()),
                        _ => None,
                    });
                    let dtype = dtype.ok_or_else(|| {
                        PthError::Malformed("_rebuild_tensor_v3 without a dtype".into())
                    })?;
                    let elem = Elem::from_dtype_name(dtype)
                        .ok_or_else(|| PthError::Unsupported(format!("tensor dtype '{dtype}'")))?;
                    return Self::from_rebuild_args(state, args, 7, Some(elem));
                }
                other => {
                    return Err(PthError::Unsupported(format!(
                        "'{other}' does not build a tensor"
                    )))
                }
            }
        }
        Err(PthError::Malformed(
            "too many nested parameter wrappers".into(),
        ))
    }

    /// `(storage, storage_offset, size, stride, ...)`, the leading arguments of every
    /// `_rebuild_tensor*` variant; `dtype` is v3's explicit dtype.
    fn from_rebuild_args(
        state: &'p Unpickled,
        args: &[Value],
        min_args: usize,
        dtype: Option<Elem>,
    ) -> Result<Self> {
        let bad = |what: &str| PthError::Malformed(format!("tensor rebuild arguments: {what}"));
        if args.len() < min_args {
            return Err(bad(&format!("{} given, expected {min_args}", args.len())));
        }
        let [storage, offset, size, stride, ..] = args else {
            return Err(bad("too few"));
        };
        let Some(Object::PersistentId(pid)) = state.object(*storage) else {
            return Err(bad("storage is not a persistent id"));
        };
        let storage = StorageRef::parse(state, *pid)?;
        let dims_error = || {
            bad(&format!(
                "size or stride is not a tuple of <= {MAX_RANK} ints"
            ))
        };
        let size = as_dims(state, *size).ok_or_else(dims_error)?;
        let stride = as_dims(state, *stride).ok_or_else(dims_error)?;
        if size.len() != stride.len() {
            return Err(bad("size and stride differ in length"));
        }
        Ok(TensorSpec {
            visible_bytes: storage
                .byte_range()
                .ok_or_else(|| bad("storage size overflows"))?,
            elem: tensor_elem(storage.ty, dtype)?,
            storage: storage.key,
            offset: as_usize(*offset).ok_or_else(|| bad("offset is not a non-negative int"))?,
            size,
            stride,
        })
    }

    fn byte_len(&self) -> Option<usize> {
        self.size
            .iter()
            .try_fold(self.elem.size(), |n, &d| n.checked_mul(d))
    }
}

/// The tensor's element type: the storage's, or v3's explicit dtype over untyped bytes.
fn tensor_elem(storage: StorageType, dtype: Option<Elem>) -> Result<Elem> {
    match (storage, dtype) {
        (StorageType::Typed(elem), None) => Ok(elem),
        (StorageType::Typed(elem), Some(dtype)) if elem == dtype => Ok(elem),
        (StorageType::Typed(elem), Some(dtype)) => Err(PthError::Malformed(format!(
            "{elem:?} storage rebuilt as a {dtype:?} tensor"
        ))),
        (StorageType::Untyped, Some(dtype)) => Ok(dtype),
        // torch.load does the same: an untyped storage without a dtype reads as uint8.
        (StorageType::Untyped, None) => Ok(Elem::U8),
    }
}

/// Turns the unpickled state_dict into named tensors, in file order.
fn build_state_dict<'a>(
    state: &'a Unpickled,
    storages: &'a Storages<'a>,
    little_endian: bool,
) -> Result<Vec<(String, Tensor)>> {
    let Some(Object::Dict(items)) = state.object(state.root()) else {
        return Err(PthError::Unsupported(format!(
            "top-level object is a {}, expected a state_dict (a dict of tensors)",
            state.type_name(state.root())
        )));
    };
    let mut builder = TensorBuilder::new(storages, little_endian);
    let mut entries: Vec<(String, Tensor)> = Vec::new();
    let mut position: HashMap<&str, usize> = HashMap::new();
    for &(key, value) in items {
        let key = state.as_str(key).ok_or_else(|| {
            PthError::Unsupported(format!(
                "state_dict key is a {}, expected a string",
                state.type_name(key)
            ))
        })?;
        let tensor = TensorSpec::parse(state, value)
            .and_then(|spec| builder.build(spec))
            .map_err(|error| PthError::Tensor {
                key: key.to_owned(),
                error: Box::new(error),
            })?;
        // A repeated key replaces the earlier value in place, as in a Python dict.
        match position.get(key).and_then(|&i| entries.get_mut(i)) {
            Some(entry) => entry.1 = tensor,
            None => {
                position.insert(key, entries.len());
                entries.push((key.to_owned(), tensor));
            }
        }
    }
    Ok(entries)
}

/// Materialises tensor views as contiguous CPU tensors.
struct TensorBuilder<'a> {
    storages: &'a Storages<'a>,
    swap_bytes: bool,
    /// Views already built. Keys sharing a view (torch writes a shared storage once) get the
    /// same tensor, cloned cheaply, instead of another copy of the data.
    built: HashMap<TensorSpec<'a>, Tensor>,
    /// Bytes we are still willing to materialise. Views may overlap (stride 0, repeated
    /// offsets), so a tiny storage could otherwise describe terabytes of tensors.
    budget: usize,
}

impl<'a> TensorBuilder<'a> {
    fn new(storages: &'a Storages<'a>, little_endian: bool) -> Self {
        let stored: usize = storages.values().map(|s| s.len()).sum();
        TensorBuilder {
            storages,
            swap_bytes: little_endian != cfg!(target_endian = "little"),
            built: HashMap::new(),
            budget: stored.saturating_mul(2).saturating_add(64 << 20),
        }
    }

    fn build(&mut self, spec: TensorSpec<'a>) -> Result<Tensor> {
        if let Some(tensor) = self.built.get(&spec) {
            return Ok(tensor.clone());
        }
        let len = spec
            .byte_len()
            .ok_or_else(|| PthError::Malformed("tensor size overflows".into()))?;
        self.budget = self.budget.checked_sub(len).ok_or_else(|| {
            PthError::Unsupported(
                "tensors expand to far more data than the storages hold (overlapping views)".into(),
            )
        })?;
        let storage = self
            .storages
            .get(spec.storage)
            .ok_or_else(|| PthError::Malformed(format!("storage '{}' is missing", spec.storage)))?;
        let visible = storage.get(spec.visible_bytes.clone()).ok_or_else(|| {
            PthError::Malformed(format!(
                "storage '{}' holds {} bytes, the checkpoint declares {}",
                spec.storage,
                storage.len(),
                spec.visible_bytes.end
            ))
        })?;
        let data = gather(
            visible,
            spec.elem.size(),
            spec.offset,
            &spec.size,
            &spec.stride,
        )?;
        let tensor = to_tensor(data, spec.elem, &spec.size, self.swap_bytes)?;
        self.built.insert(spec, tensor.clone());
        Ok(tensor)
    }
}

/// Copies the view `(offset, size, stride)` (in elements) of `storage` into a contiguous
/// row-major buffer.
fn gather(
    storage: &[u8],
    elem_size: usize,
    offset: usize,
    size: &[usize],
    stride: &[usize],
) -> Result<Vec<u8>> {
    let numel = size
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| PthError::Malformed("tensor size overflows".into()))?;
    if numel == 0 {
        return Ok(Vec::new());
    }
    let available = storage.len() / elem_size;
    let out_of_range = || {
        PthError::Malformed(format!(
            "view (offset {offset}, size {size:?}, stride {stride:?}) does not fit in a \
             storage of {available} elements"
        ))
    };
    // Every visited position lies between `offset` and `last`, so checking `last` once
    // bounds them all (strides are non-negative).
    let last = size
        .iter()
        .zip(stride)
        .try_fold(offset, |acc, (&n, &s)| {
            acc.checked_add((n - 1).checked_mul(s)?)
        })
        .filter(|&last| last < available)
        .ok_or_else(out_of_range)?;
    if is_row_major(size, stride) {
        let start = offset * elem_size;
        let bytes = storage
            .get(start..(last + 1) * elem_size)
            .ok_or_else(out_of_range)?;
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::with_capacity(numel * elem_size);
    let mut index = vec![0usize; size.len()];
    let mut pos = offset;
    for _ in 0..numel {
        let start = pos * elem_size;
        out.extend_from_slice(
            storage
                .get(start..start + elem_size)
                .ok_or_else(out_of_range)?,
        );
        step_odometer(&mut index, &mut pos, size, stride);
    }
    Ok(out)
}

/// Moves `index` to the next element in row-major order, keeping `pos` = offset + Σ index·stride.
fn step_odometer(index: &mut [usize], pos: &mut usize, size: &[usize], stride: &[usize]) {
    for ((i, &n), &s) in index.iter_mut().zip(size).zip(stride).rev() {
        if *i + 1 < n {
            *i += 1;
            *pos += s;
            return;
        }
        *pos -= *i * s;
        *i = 0;
    }
}

/// True if the view is a plain contiguous block (dims of size 1 may have any stride).
fn is_row_major(size: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1usize;
    for (&n, &s) in size.iter().zip(stride).rev() {
        if n != 1 && s != expected {
            return false;
        }
        expected = expected.saturating_mul(n);
    }
    true
}

/// Builds a CPU tensor from contiguous element bytes in the file's byte order.
fn to_tensor(mut data: Vec<u8>, elem: Elem, shape: &[usize], swap_bytes: bool) -> Result<Tensor> {
    if swap_bytes {
        data.chunks_exact_mut(elem.size()).for_each(<[u8]>::reverse);
    }
    let tensor = match elem.candle_dtype() {
        Some(dtype) => Tensor::from_raw_buffer(&data, dtype, shape, &Device::Cpu)?,
        None => {
            let values: Vec<i64> = match elem {
                Elem::I32 => widen(&data, i32::from_ne_bytes),
                Elem::I16 => widen(&data, i16::from_ne_bytes),
                Elem::U16 => widen(&data, u16::from_ne_bytes),
                _ => widen(&data, i8::from_ne_bytes),
            };
            Tensor::from_vec(values, shape, &Device::Cpu)?
        }
    };
    Ok(tensor)
}

/// Decodes native-endian `N`-byte signed ints into i64.
fn widen<const N: usize, T: Into<i64>>(data: &[u8], decode: fn([u8; N]) -> T) -> Vec<i64> {
    data.chunks_exact(N)
        .map(|chunk| {
            let mut bytes = [0u8; N];
            bytes.copy_from_slice(chunk);
            decode(bytes).into()
        })
        .collect()
}
