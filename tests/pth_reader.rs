//! The PyTorch checkpoint reader (`marionette::weights::pth`) against the shared fixtures
//! (zip and legacy `.pth` next to a safetensors copy of the same state_dict), and against
//! hand-built hostile, truncated and strided checkpoints.

use std::collections::BTreeSet;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use marionette::weights::pth::{load_pth, load_pth_bytes};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn gfla_dir() -> PathBuf {
    match std::env::var_os("MARIONETTE_GFLA_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/gfla"),
    }
}

fn pona_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/pona")
}

/// Files in `dir` whose names end with `suffix`, sorted.
fn files_ending_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list fixture dir {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// Exact element bits, so the comparison is bit-for-bit (NaN-safe, -0.0 ≠ 0.0).
fn element_bits(tensor: &Tensor) -> candle_core::Result<Vec<u64>> {
    let flat = tensor.flatten_all()?;
    Ok(match tensor.dtype() {
        DType::F32 => flat
            .to_vec1::<f32>()?
            .into_iter()
            .map(|v| v.to_bits().into())
            .collect(),
        DType::I64 => flat
            .to_vec1::<i64>()?
            .into_iter()
            .map(|v| v as u64)
            .collect(),
        DType::U8 => flat.to_vec1::<u8>()?.into_iter().map(u64::from).collect(),
        // f16/bf16/f64 widen to f64 exactly.
        _ => flat
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?
            .into_iter()
            .map(f64::to_bits)
            .collect(),
    })
}

/// Asserts that `entries` (from a .pth) hold exactly the tensors of `reference`.
fn assert_same_as_safetensors(
    entries: &[(String, Tensor)],
    reference: &std::collections::HashMap<String, Tensor>,
    what: &str,
) -> TestResult {
    let keys: BTreeSet<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys.len(),
        entries.len(),
        "{what}: duplicate keys in the result"
    );
    let expected: BTreeSet<&str> = reference.keys().map(String::as_str).collect();
    assert_eq!(keys, expected, "{what}: key sets differ");
    for (key, tensor) in entries {
        let want = &reference[key];
        assert_eq!(tensor.dims(), want.dims(), "{what}: shape of {key}");
        assert_eq!(tensor.dtype(), want.dtype(), "{what}: dtype of {key}");
        assert!(tensor.device().is_cpu(), "{what}: {key} is not on the CPU");
        assert!(
            element_bits(tensor)? == element_bits(want)?,
            "{what}: values of {key} differ"
        );
    }
    Ok(())
}

#[test]
fn gfla_zip_and_legacy_pth_match_safetensors() -> TestResult {
    let references = files_ending_with(&gfla_dir(), "_weights.safetensors");
    assert!(
        !references.is_empty(),
        "no *_weights.safetensors in {}",
        gfla_dir().display()
    );
    for reference_path in references {
        let reference = candle_core::safetensors::load(&reference_path, &Device::Cpu)?;
        let stem = reference_path
            .to_string_lossy()
            .replace("_weights.safetensors", "");
        let zip = load_pth(Path::new(&format!("{stem}_weights.pth")))?;
        assert_same_as_safetensors(&zip, &reference, &format!("{stem} zip"))?;

        let legacy_path = PathBuf::from(format!("{stem}_weights_legacy.pth"));
        if legacy_path.exists() {
            let legacy = load_pth(&legacy_path)?;
            assert_same_as_safetensors(&legacy, &reference, &format!("{stem} legacy"))?;
            // Both were written from the same state_dict: same (file) order too.
            let order = |entries: &[(String, Tensor)]| -> Vec<String> {
                entries.iter().map(|(k, _)| k.clone()).collect()
            };
            assert_eq!(order(&zip), order(&legacy), "{stem}: key order differs");
        }
    }
    Ok(())
}

#[test]
fn pona_pth_matches_safetensors_including_int64_scalars() -> TestResult {
    let mut int64_scalars = 0;
    for pth_path in files_ending_with(&pona_dir(), "_weights.pth") {
        let reference_path = pth_path.with_extension("safetensors");
        let reference = candle_core::safetensors::load(&reference_path, &Device::Cpu)?;
        let entries = load_pth(&pth_path)?;
        assert_same_as_safetensors(&entries, &reference, &pth_path.display().to_string())?;
        int64_scalars += entries
            .iter()
            .filter(|(_, t)| t.dtype() == DType::I64 && t.rank() == 0)
            .count();
    }
    // market_bn's batch norms carry `num_batches_tracked`: 0-d int64 tensors.
    assert!(
        int64_scalars > 0,
        "expected 0-d int64 tensors in the PoNA fixtures"
    );
    Ok(())
}

#[test]
fn deflated_zip_entries_read_like_stored_ones() -> TestResult {
    // torch writes stored (uncompressed) entries; re-pack one fixture with deflate.
    let zips = files_ending_with(&gfla_dir(), "_weights.pth");
    let original = std::fs::read(zips.first().ok_or("no *_weights.pth fixture")?)?;
    let mut archive = zip::ZipArchive::new(Cursor::new(&original[..]))?;
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        writer.start_file(entry.name()?.to_string(), options)?;
        writer.write_all(&data)?;
    }
    let repacked = writer.finish()?.into_inner();
    let want = load_pth_bytes(&original)?;
    let got = load_pth_bytes(&repacked)?;
    assert_eq!(want.len(), got.len());
    for ((wk, wt), (gk, gt)) in want.iter().zip(&got) {
        assert_eq!(wk, gk);
        assert_eq!(wt.dims(), gt.dims());
        assert!(
            element_bits(wt)? == element_bits(gt)?,
            "values of {wk} differ"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Hand-built pickles

/// Emits pickle protocol 2 opcodes.
struct Pickle(Vec<u8>);

impl Pickle {
    fn new() -> Self {
        Pickle(vec![0x80, 2]) // PROTO 2
    }
    fn op(&mut self, opcode: u8) -> &mut Self {
        self.0.push(opcode);
        self
    }
    fn op_bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }
    fn int(&mut self, value: i32) -> &mut Self {
        self.op(b'J'); // BININT
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }
    fn str(&mut self, text: &str) -> &mut Self {
        self.op(b'X'); // BINUNICODE
        self.0.extend_from_slice(&(text.len() as u32).to_le_bytes());
        self.0.extend_from_slice(text.as_bytes());
        self
    }
    fn global(&mut self, module: &str, name: &str) -> &mut Self {
        self.op(b'c');
        self.0
            .extend_from_slice(format!("{module}\n{name}\n").as_bytes());
        self
    }
    fn int_tuple(&mut self, items: &[i32]) -> &mut Self {
        self.op(b'(');
        for &item in items {
            self.int(item);
        }
        self.op(b't')
    }
    /// `_rebuild_tensor_v2(<legacy FloatStorage pid>, offset, size, stride, False, OrderedDict())`
    fn tensor(
        &mut self,
        key: &str,
        numel: i32,
        offset: i32,
        size: &[i32],
        stride: &[i32],
    ) -> &mut Self {
        self.typed_tensor("FloatStorage", key, numel, offset, size, stride)
    }
    /// Like [`Pickle::tensor`] over a `torch.<class>` storage.
    fn typed_tensor(
        &mut self,
        class: &str,
        key: &str,
        numel: i32,
        offset: i32,
        size: &[i32],
        stride: &[i32],
    ) -> &mut Self {
        self.global("torch._utils", "_rebuild_tensor_v2").op(b'(');
        self.op(b'(')
            .str("storage")
            .global("torch", class)
            .str(key)
            .str("cpu");
        self.int(numel).op(b'N').op(b't').op(b'Q'); // TUPLE, BINPERSID
        self.int(offset).int_tuple(size).int_tuple(stride).op(0x89); // NEWFALSE
        self.global("collections", "OrderedDict").op(b')').op(b'R'); // backward hooks
        self.op(b't').op(b'R')
    }
    /// `OrderedDict()` + MARK: start of a state_dict whose items follow.
    fn begin_state_dict(&mut self) -> &mut Self {
        self.global("collections", "OrderedDict")
            .op(b')')
            .op(b'R')
            .op(b'(')
    }
    /// SETITEMS, then BUILD with `{'_metadata': {}}` as torch does, then STOP.
    fn end_state_dict(&mut self) -> Vec<u8> {
        self.op(b'u')
            .op(b'}')
            .str("_metadata")
            .op(b'}')
            .op(b's')
            .op(b'b');
        self.finish()
    }
    fn finish(&mut self) -> Vec<u8> {
        self.op(b'.');
        std::mem::take(&mut self.0)
    }
}

/// A legacy (torch < 1.6) file: magic, protocol, sys info, `main`, key list, storage data.
fn legacy_file(main: &[u8], storages: &[(&str, &[f32])]) -> Vec<u8> {
    let storages: Vec<(&str, usize, Vec<u8>)> = storages
        .iter()
        .map(|(key, values)| {
            (
                *key,
                values.len(),
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    legacy_file_raw(main, &storages, true)
}

/// [`legacy_file`] with storages given as `(key, element count, raw bytes)`.
fn legacy_file_raw(
    main: &[u8],
    storages: &[(&str, usize, Vec<u8>)],
    little_endian: bool,
) -> Vec<u8> {
    let mut magic = Pickle::new();
    magic.op(0x8a).op(10); // LONG1 with 10 bytes
    magic.op_bytes(&0x1950a86a20f9469cfc6c_u128.to_le_bytes()[..10]);
    let protocol = Pickle::new().int(1001).finish();
    let mut sys_info = Pickle::new();
    sys_info.op(b'}').str("little_endian");
    let sys_info = sys_info
        .op(if little_endian { 0x88 } else { 0x89 })
        .op(b's')
        .finish();
    let mut keys = Pickle::new();
    keys.op(b']').op(b'(');
    for (key, _, _) in storages {
        keys.str(key);
    }
    let keys = keys.op(b'e').finish();
    let mut file = [magic.finish(), protocol, sys_info, main.to_vec(), keys].concat();
    for (_, numel, bytes) in storages {
        // The record header is little-endian whatever the data's byte order.
        file.extend_from_slice(&(*numel as u64).to_le_bytes());
        file.extend_from_slice(bytes);
    }
    file
}

/// A zip (torch >= 1.6) file holding `archive/data.pkl` = `main` and the given storages.
fn zip_file(
    main: &[u8],
    storages: &[(&str, &[f32])],
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    writer.start_file("archive/data.pkl", options)?;
    writer.write_all(main)?;
    for (key, values) in storages {
        writer.start_file(format!("archive/data/{key}"), options)?;
        values
            .iter()
            .try_for_each(|v| writer.write_all(&v.to_le_bytes()))?;
    }
    Ok(writer.finish()?.into_inner())
}

fn expect_refusal(bytes: &[u8], global: &str, what: &str) {
    match load_pth_bytes(bytes) {
        Ok(_) => panic!("{what}: a checkpoint calling {global} was accepted"),
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains(&format!("'{global}'")) && message.contains("refusing"),
                "{what}: error does not name {global}: {message}"
            );
        }
    }
}

#[test]
fn calls_to_untrusted_globals_are_refused() -> TestResult {
    // posix.system('echo pwned') as the whole state_dict, via GLOBAL + REDUCE.
    let direct = Pickle::new()
        .global("posix", "system")
        .str("echo pwned")
        .op(0x85)
        .op(b'R')
        .finish();
    expect_refusal(
        &legacy_file(&direct, &[]),
        "posix.system",
        "legacy, top level",
    );
    expect_refusal(&zip_file(&direct, &[])?, "posix.system", "zip, top level");

    // Hidden as the value of an otherwise ordinary state_dict entry.
    let mut nested = Pickle::new();
    nested.begin_state_dict().str("weight");
    nested
        .global("posix", "system")
        .str("echo pwned")
        .op(0x85)
        .op(b'R');
    let nested = nested.end_state_dict();
    expect_refusal(
        &legacy_file(&nested, &[]),
        "posix.system",
        "legacy, as a value",
    );
    expect_refusal(&zip_file(&nested, &[])?, "posix.system", "zip, as a value");

    // STACK_GLOBAL + REDUCE, and NEWOBJ.
    let mut stacked = Pickle::new();
    stacked
        .op(0x8c)
        .op(8)
        .op_bytes(b"builtins")
        .op(0x8c)
        .op(4)
        .op_bytes(b"eval")
        .op(0x93);
    let stacked = stacked.str("1").op(0x85).op(b'R').finish();
    expect_refusal(
        &zip_file(&stacked, &[])?,
        "builtins.eval",
        "zip, STACK_GLOBAL",
    );
    let newobj = Pickle::new()
        .global("subprocess", "Popen")
        .op(b')')
        .op(0x81)
        .finish();
    expect_refusal(&zip_file(&newobj, &[])?, "subprocess.Popen", "zip, NEWOBJ");
    Ok(())
}

#[test]
fn strided_offset_shared_and_scalar_views_are_gathered() -> TestResult {
    let values: Vec<f32> = (0..4).map(|i| i as f32 * 1.5 - 1.0).collect();
    let mut main = Pickle::new();
    main.begin_state_dict();
    main.str("transposed").tensor("s0", 4, 0, &[2, 2], &[1, 2]);
    main.str("tail").tensor("s0", 4, 1, &[3], &[1]);
    main.str("scalar").tensor("s0", 4, 3, &[], &[]);
    main.str("broadcast").tensor("s0", 4, 2, &[2, 3], &[1, 0]);
    main.str("same_view").tensor("s0", 4, 0, &[2, 2], &[1, 2]);
    let main = main.end_state_dict();

    let check = |entries: Vec<(String, Tensor)>, what: &str| -> TestResult {
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["transposed", "tail", "scalar", "broadcast", "same_view"],
            "{what}"
        );
        let storage = Tensor::from_vec(values.clone(), 4, &Device::Cpu)?;
        let as_matrix = storage.reshape((2, 2))?;
        let want = [
            as_matrix.t()?.contiguous()?,
            storage.narrow(0, 1, 3)?,
            storage.get(3)?,
            storage
                .narrow(0, 2, 2)?
                .reshape((2, 1))?
                .broadcast_as((2, 3))?
                .contiguous()?,
            as_matrix.t()?.contiguous()?,
        ];
        for ((key, got), want) in entries.iter().zip(&want) {
            assert_eq!(got.dims(), want.dims(), "{what}: shape of {key}");
            assert_eq!(got.dtype(), DType::F32, "{what}: dtype of {key}");
            assert!(
                element_bits(got)? == element_bits(want)?,
                "{what}: values of {key}"
            );
        }
        Ok(())
    };
    check(
        load_pth_bytes(&legacy_file(&main, &[("s0", &values)]))?,
        "legacy",
    )?;
    // A zip persistent id has no view slot: drop the `None` before TUPLE in each pid.
    let zip_main = main_without_view_slots(&main);
    check(
        load_pth_bytes(&zip_file(&zip_main, &[("s0", &values)])?)?,
        "zip",
    )?;
    Ok(())
}

/// Turns legacy 6-field persistent ids into zip-style 5-field ones: in the bytes written by
/// [`Pickle::tensor`], the view slot is the only `N` (NONE) directly followed by `t` (TUPLE).
fn main_without_view_slots(main: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(main.len());
    let mut i = 0;
    while i < main.len() {
        if main[i] == b'N' && main.get(i + 1) == Some(&b't') {
            i += 1;
            continue;
        }
        out.push(main[i]);
        i += 1;
    }
    out
}

#[test]
fn parameters_and_untyped_storages_are_unwrapped() -> TestResult {
    let values: Vec<f32> = (0..4).map(|i| i as f32 - 1.25).collect();
    let untyped_v3 = |p: &mut Pickle, dtype: Option<&str>| {
        let rebuild = if dtype.is_some() {
            "_rebuild_tensor_v3"
        } else {
            "_rebuild_tensor_v2"
        };
        p.global("torch._utils", rebuild).op(b'(');
        p.op(b'(')
            .str("storage")
            .global("torch", "UntypedStorage")
            .str("u0")
            .str("cpu");
        p.int(16).op(b't').op(b'Q'); // numel counts bytes for untyped storages
        p.int(1).int_tuple(&[2]).int_tuple(&[1]).op(0x89);
        p.global("collections", "OrderedDict").op(b')').op(b'R');
        if let Some(dtype) = dtype {
            p.global("torch", dtype);
        }
        p.op(b't').op(b'R');
    };
    let mut main = Pickle::new();
    main.begin_state_dict().str("param");
    main.global("torch._utils", "_rebuild_parameter").op(b'(');
    untyped_v3(&mut main, Some("float32"));
    main.op(0x88)
        .global("collections", "OrderedDict")
        .op(b')')
        .op(b'R')
        .op(b't')
        .op(b'R');
    main.str("bytes");
    untyped_v3(&mut main, None);
    let main = main.end_state_dict();

    let entries = load_pth_bytes(&zip_file(&main, &[("u0", &values)])?)?;
    let [(param_key, param), (bytes_key, bytes)] = &entries[..] else {
        panic!("expected two entries, got {}", entries.len());
    };
    assert_eq!((param_key.as_str(), bytes_key.as_str()), ("param", "bytes"));
    // v3: offset and size count float32 elements of the untyped bytes.
    assert_eq!(param.to_vec1::<f32>()?, values[1..3]);
    // v2 over an untyped storage: torch.load also reads it as uint8.
    let storage_bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(bytes.to_vec1::<u8>()?, storage_bytes[1..3]);
    Ok(())
}

/// IEEE half-precision bits of `x`, for normal values exactly representable in f16.
fn f16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exponent = (((bits >> 23) & 0xff) as i32 - 127 + 15) as u16;
    sign | (exponent << 10) | ((bits >> 13) & 0x3ff) as u16
}

/// (storage class, expected dtype, expected values, little-endian bytes of each element)
type StorageCase = (&'static str, DType, Vec<f64>, Vec<Vec<u8>>);

#[test]
fn every_storage_type_loads_with_its_dtype_in_both_byte_orders() -> TestResult {
    let floats = [-2.0f32, 0.5, 3.0];
    let cases: Vec<StorageCase> = vec![
        (
            "FloatStorage",
            DType::F32,
            floats.map(f64::from).to_vec(),
            floats.iter().map(|v| v.to_le_bytes().to_vec()).collect(),
        ),
        (
            "DoubleStorage",
            DType::F64,
            floats.map(f64::from).to_vec(),
            floats
                .iter()
                .map(|v| f64::from(*v).to_le_bytes().to_vec())
                .collect(),
        ),
        (
            "HalfStorage",
            DType::F16,
            floats.map(f64::from).to_vec(),
            floats
                .iter()
                .map(|v| f16_bits(*v).to_le_bytes().to_vec())
                .collect(),
        ),
        (
            "BFloat16Storage",
            DType::BF16,
            floats.map(f64::from).to_vec(),
            floats
                .iter()
                .map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes().to_vec())
                .collect(),
        ),
        (
            "LongStorage",
            DType::I64,
            vec![-3.0, 7.0, 2f64.powi(40)],
            [-3i64, 7, 1 << 40]
                .iter()
                .map(|v| v.to_le_bytes().to_vec())
                .collect(),
        ),
        (
            "IntStorage",
            DType::I64,
            vec![-3.0, 7.0, 1e5],
            [-3i32, 7, 100_000]
                .iter()
                .map(|v| v.to_le_bytes().to_vec())
                .collect(),
        ),
        (
            "ShortStorage",
            DType::I64,
            vec![-3.0, 7.0, 3e4],
            [-3i16, 7, 30_000]
                .iter()
                .map(|v| v.to_le_bytes().to_vec())
                .collect(),
        ),
        (
            "CharStorage",
            DType::I64,
            vec![-3.0, 7.0, 100.0],
            [-3i8, 7, 100]
                .iter()
                .map(|v| v.to_le_bytes().to_vec())
                .collect(),
        ),
        (
            "ByteStorage",
            DType::U8,
            vec![3.0, 7.0, 200.0],
            [3u8, 7, 200].iter().map(|v| vec![*v]).collect(),
        ),
        (
            "BoolStorage",
            DType::U8,
            vec![1.0, 0.0, 1.0],
            [1u8, 0, 1].iter().map(|v| vec![*v]).collect(),
        ),
    ];
    let keys: Vec<String> = (0..cases.len()).map(|i| format!("k{i}")).collect();
    let mut main = Pickle::new();
    main.begin_state_dict();
    for ((class, ..), key) in cases.iter().zip(&keys) {
        main.str(class).typed_tensor(class, key, 3, 0, &[3], &[1]);
    }
    let main = main.end_state_dict();
    for little_endian in [true, false] {
        let storages: Vec<(&str, usize, Vec<u8>)> = cases
            .iter()
            .zip(&keys)
            .map(|((_, _, _, elements), key)| {
                let ordered = elements.iter().flat_map(|element| {
                    let mut element = element.clone();
                    if !little_endian {
                        element.reverse();
                    }
                    element
                });
                (key.as_str(), elements.len(), ordered.collect())
            })
            .collect();
        let entries = load_pth_bytes(&legacy_file_raw(&main, &storages, little_endian))?;
        assert_eq!(entries.len(), cases.len());
        for ((name, tensor), (class, dtype, values, _)) in entries.iter().zip(&cases) {
            assert_eq!(name, class);
            assert_eq!(
                tensor.dtype(),
                *dtype,
                "{class}, little_endian={little_endian}"
            );
            let got = tensor.to_dtype(DType::F64)?.to_vec1::<f64>()?;
            assert_eq!(&got, values, "{class}, little_endian={little_endian}");
        }
    }
    Ok(())
}

#[test]
fn views_outside_their_storage_are_rejected() -> TestResult {
    let values = [1.0f32, 2.0, 3.0, 4.0];
    let mut main = Pickle::new();
    main.begin_state_dict()
        .str("too_far")
        .tensor("s0", 4, 1, &[2, 2], &[2, 1]);
    let main = main.end_state_dict();
    let error = load_pth_bytes(&legacy_file(&main, &[("s0", &values)])).err();
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("too_far"),
        "expected an error naming the tensor, got {message:?}"
    );
    Ok(())
}

#[test]
fn resource_bombs_are_refused_without_blowing_up() -> TestResult {
    // "Billion laughs": t = (t, t) a thousand times. Copying values on BINGET would need
    // 2^1000 nodes; the result here is simply not a state_dict.
    let mut laughs = Pickle::new();
    laughs.op(b')').op(b'q').op(0);
    for _ in 0..1000 {
        laughs.op(b'h').op(0).op(b'h').op(0).op(0x86).op(b'q').op(0); // (t, t), memo 0
    }
    let laughs = laughs.finish();
    assert!(load_pth_bytes(&legacy_file(&laughs, &[])).is_err());

    // A 2^20 × 2^20 broadcast (stride 0) of a one-element storage: 4 TiB if materialised.
    let one = [1.0f32];
    let mut broadcast = Pickle::new();
    broadcast
        .begin_state_dict()
        .str("huge")
        .tensor("s0", 1, 0, &[1 << 20, 1 << 20], &[0, 0]);
    let broadcast = broadcast.end_state_dict();
    assert!(load_pth_bytes(&legacy_file(&broadcast, &[("s0", &one)])).is_err());

    // A storage count far beyond the file.
    let mut file = legacy_file(&broadcast, &[("s0", &one)]);
    let count_at = file.len() - 4 - 8;
    file[count_at..count_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(load_pth_bytes(&file).is_err());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Damaged input

/// xorshift64*: a deterministic byte stream for garbage and mutations.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn truncated_checkpoints_are_errors() -> TestResult {
    let checkpoints = files_ending_with(&gfla_dir(), ".pth");
    assert!(!checkpoints.is_empty(), "no .pth fixtures");
    for path in checkpoints {
        let bytes = std::fs::read(&path)?;
        let len = bytes.len();
        let mut cuts: Vec<usize> = vec![0, 1, 2, 3, 8, 15, 16, 21, 100, 137, 1000];
        cuts.extend([len - 8, len - 1]);
        cuts.extend((1..40).map(|k| len * k / 40));
        for cut in cuts.into_iter().filter(|&cut| cut < len) {
            assert!(
                load_pth_bytes(&bytes[..cut]).is_err(),
                "{} cut to {cut} of {len} bytes was accepted",
                path.display()
            );
        }
    }
    Ok(())
}

#[test]
fn garbage_is_an_error() {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    for round in 0..200 {
        let len = (noise.next() % 4096) as usize;
        // Steer some rounds into the pickle interpreter and the zip reader.
        let prefix: &[u8] = match round % 3 {
            0 => &[0x80, 0x02],
            1 => b"PK\x03\x04",
            _ => &[],
        };
        let bytes = [prefix, &noise.bytes(len)].concat();
        assert!(
            load_pth_bytes(&bytes).is_err(),
            "garbage round {round} was accepted"
        );
    }
    let missing = load_pth(Path::new("/nonexistent/marionette/weights.pth")).err();
    let message = missing.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("/nonexistent/marionette/weights.pth"),
        "{message:?}"
    );
}

#[test]
fn corrupted_pickles_never_panic() -> TestResult {
    // Overwrite bytes near the start of legacy checkpoints, where the pickles are (zip
    // entries are CRC-checked, so corrupting those mostly tests the zip crate). Any result
    // is fine except a panic.
    let mut originals = Vec::new();
    for path in files_ending_with(&gfla_dir(), "_legacy.pth") {
        originals.push(std::fs::read(path)?);
    }
    let mut main = Pickle::new();
    main.begin_state_dict()
        .str("a")
        .tensor("s0", 4, 1, &[2, 2], &[1, 2]);
    let main = main
        .str("b")
        .tensor("s0", 4, 0, &[4], &[1])
        .end_state_dict();
    originals.push(legacy_file(&main, &[("s0", &[1.0, 2.0, 3.0, 4.0])]));

    let mut noise = Noise(0x1234_5678_9abc_def1);
    for original in &originals {
        let pickled_part = (original.len() / 10).max(original.len().min(1000));
        for _ in 0..300 {
            let mut bytes = original.clone();
            for _ in 0..1 + noise.next() % 4 {
                let at = (noise.next() % pickled_part as u64) as usize;
                bytes[at] = noise.next() as u8;
            }
            let _ = load_pth_bytes(&bytes);
        }
    }
    Ok(())
}

/// A zip bomb: a few hundred kilobytes of deflated zeros that would expand to 300 MiB, far
/// beyond 1024× the file, is refused by name before it is inflated.
#[test]
fn a_zip_bomb_is_refused() -> TestResult {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let deflate = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    writer.start_file("archive/data.pkl", deflate)?;
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..300 {
        writer.write_all(&zeros)?;
    }
    let bomb = writer.finish()?.into_inner();
    assert!(bomb.len() < 1 << 20, "the bomb is {} bytes", bomb.len());
    let error = load_pth_bytes(&bomb).expect_err("a zip bomb was accepted");
    let message = error.to_string();
    assert!(
        message.contains("zip bomb") && message.contains("archive/data.pkl"),
        "{message}"
    );
    Ok(())
}
