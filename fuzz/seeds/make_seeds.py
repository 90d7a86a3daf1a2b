"""Writes fuzz/corpus/<target>/ seeds from the repository's fixtures and small hand-built files.

    python3 fuzz/seeds/make_seeds.py            # JSON, checkpoints, pickles, TFLite
    (with Pillow installed, also the PNG/JPEG seeds of fuzz/corpus/image/)

Deterministic; run from anywhere. Inputs: assets/samples, tests/data, ../shared/fixtures (when
present: a real checkpoint's data.pkl and legacy pickles). Seeds are kept small (AFL works best
on inputs of a few KiB; it refuses any over 1 MiB).
"""

import io
import json
import os
import pickletools
import struct
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared", "fixtures"))


def out(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def load(path):
    with open(os.path.join(ROOT, path)) as f:
        return json.load(f)


def rounded(value, digits=1):
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    return value


# --- pose JSON ---------------------------------------------------------------------------------
def pose_seeds():
    src = load("assets/samples/astronaut_source.json")
    out("pose_json", "coco18_pixels.json", compact(src))
    out("pose_json", "coco18_target.json", compact(load("assets/samples/synth_person_target.json")))
    kp = src["people"][0]["pose_keypoints_2d"]
    norm = dict(src)
    norm["people"] = [{"pose_keypoints_2d": [
        v / 512 if i % 3 != 2 else v for i, v in enumerate(kp)]}]
    out("pose_json", "coco18_normalised.json", compact(rounded(norm, 4)))
    body25 = [round(10.0 + i, 1) if i % 3 != 2 else 0.9 for i in range(75)]
    out("pose_json", "body25.json", compact({"version": 1.3, "people": [
        {"person_id": [-1], "pose_keypoints_2d": body25, "face_keypoints_2d": [],
         "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": []}]}))
    two = {"canvas_width": 640, "canvas_height": 480,
           "people": [{"pose_keypoints_2d": rounded(kp)},
                      {"pose_keypoints_2d": [v + 1 if i % 3 != 2 else v for i, v in enumerate(rounded(kp))]}]}
    out("pose_json", "two_people.json", compact(two))
    out("pose_json", "nobody.json", '{"version":1.3,"people":[]}')
    fixture = os.path.join(SHARED, "pose", "astronaut.json")
    if os.path.exists(fixture):
        with open(fixture) as f:
            d = json.load(f)
        keep = {k: d[k] for k in ("width", "height", "pose_found")}
        keep["openpose18"] = [{k: e[k] for k in ("x_px", "y_px", "visibility", "confident") if k in e}
                              for e in d["openpose18"]]
        out("pose_json", "fixture_openpose18.json", compact(rounded(keep, 2)))


# --- keyframes, projects, motion ----------------------------------------------------------------
def timeline_seeds():
    wave = rounded(load("assets/samples/motion/cameraman_wave.json"))
    out("keyframes", "wave.json", compact(wave))
    short = {"fps": 24, "keyframes": wave["keyframes"][:2]}
    short["keyframes"][1] = dict(short["keyframes"][1], easing="linear", duration=0.0)
    out("keyframes", "two_keyframes.json", compact(short))
    rig0, rig1 = wave["keyframes"][0]["rig"], wave["keyframes"][1]["rig"]
    project = {"version": 1, "photo": "photo.png", "source": rig0, "target": rig1,
               "timeline": short,
               "model": {"choice": {"Random": "fashion"}, "device": "cpu"},
               "settings": {"mode": "FitSource", "result_view": "Network", "overlay": "Flow",
                            "overlay_opacity": 0.5, "overlay_level": 0, "flow_arrows": True,
                            "attention_opacity": 0.8, "lock_lengths": True, "show_hidden": False}}
    out("keyframes", "project_with_timeline.json", compact(project))
    out("project", "full.json", compact(project))
    out("project", "minimal.json", compact({"version": 1, "photo": None, "source": rig0, "target": rig1}))
    out("project", "file_model.json", compact(dict(project, photo="/abs/photo.jpg", timeline={"fps": 12, "keyframes": []},
                                                   model={"choice": {"File": "w.pth"}, "device": "cuda:0"})))
    out("project", "bundled.json", compact(dict(project, model={"choice": "Bundled", "device": "cuda"})))

    jj = rounded(load("assets/samples/motion/jumping_jack.json"))
    out("motion", "jumping_jack_3.json", compact({"fps": jj["fps"], "frames": jj["frames"][:3]}))
    out("motion", "array.json", compact(jj["frames"][:2]))
    two = json.loads(compact(jj["frames"][0]))
    p = two["people"][0]["pose_keypoints_2d"]
    two["people"].append({"pose_keypoints_2d": [v + 50 if i % 3 != 2 else 0.5 for i, v in enumerate(p)]})
    frames = [two, {"people": []}, jj["frames"][1]]
    out("motion", "tracking.json", compact({"fps": None, "frames": frames}))
    body25 = [round(10.0 + i, 1) if i % 3 != 2 else 0.9 for i in range(75)]
    out("motion", "body25_normalised.json", compact({"frames": [
        {"canvas_width": 100, "canvas_height": 100, "people": [{"pose_keypoints_2d": [
            v / 100 if i % 3 != 2 else v for i, v in enumerate(body25)]}]}]}))


# --- checkpoints --------------------------------------------------------------------------------
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = compact(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def f32(*values):
    return b"".join(struct.pack("<f", v) for v in values)


def safetensors_seeds():
    out("safetensors", "f32.safetensors", safetensors([
        ("conv.weight", "F32", [2, 1, 1, 2], f32(1, 2, 3, 4)), ("conv.bias", "F32", [2], f32(0.5, -1))]))
    out("safetensors", "dtypes.safetensors", safetensors([
        ("a", "F16", [2], struct.pack("<2e", 1.0, -2.0)), ("b", "BF16", [1], b"\x80\x3f"),
        ("c", "I64", [1], struct.pack("<q", 7)), ("d", "U8", [3], b"\x01\x02\x03"),
        ("e", "F64", [], struct.pack("<d", 3.5)), ("f", "U32", [1, 1], struct.pack("<I", 9)),
        ("g", "I32", [0], b"")], metadata={"format": "pt"}))
    out("safetensors", "module_prefix.safetensors", safetensors([
        ("module.x", "F32", [1], f32(1)), ("module.y", "F32", [1, 1], f32(2))]))


class Pickle:
    """Pickle protocol 2 opcodes, as tests/pth_reader.rs builds them."""

    def __init__(self):
        self.b = bytearray(b"\x80\x02")

    def op(self, *codes):
        for c in codes:
            self.b += c if isinstance(c, bytes) else bytes([c])
        return self

    def int(self, v):
        self.b += b"J" + struct.pack("<i", v)
        return self

    def str(self, s):
        s = s.encode()
        self.b += b"X" + struct.pack("<I", len(s)) + s
        return self

    def glob(self, module, name):
        self.b += b"c" + f"{module}\n{name}\n".encode()
        return self

    def int_tuple(self, items):
        self.op(b"(")
        for i in items:
            self.int(i)
        return self.op(b"t")

    def tensor(self, cls, key, numel, offset, size, stride, func="_rebuild_tensor_v2"):
        self.glob("torch._utils", func).op(b"(")
        self.op(b"(").str("storage").glob("torch", cls).str(key).str("cpu")
        self.int(numel).op(b"N", b"t", b"Q")
        self.int(offset).int_tuple(size).int_tuple(stride).op(0x89)
        self.glob("collections", "OrderedDict").op(b")", b"R")
        return self.op(b"t", b"R")

    def begin_state_dict(self):
        return self.glob("collections", "OrderedDict").op(b")", b"R", b"(")

    def end_state_dict(self):
        self.op(b"u", b"}").str("_metadata").op(b"}", b"s", b"b")
        return self.finish()

    def finish(self):
        self.op(b".")
        return bytes(self.b)


def state_dict_pickle():
    p = Pickle().begin_state_dict()
    p.str("conv.weight").tensor("FloatStorage", "0", 4, 0, [2, 2], [2, 1])
    p.op(b"q\x01")  # BINPUT 1 (memoise the tensor), then reuse it through BINGET
    p.str("conv.weight_t").tensor("FloatStorage", "0", 4, 0, [2, 2], [1, 2])
    p.str("bn.num_batches_tracked").tensor("LongStorage", "1", 1, 0, [], [])
    p.str("half").tensor("HalfStorage", "2", 2, 1, [1], [1])
    p.str("alias").op(b"h\x01")
    return p.end_state_dict()


# (key, element count, raw little-endian bytes)
STORAGES = [("0", 4, f32(1, 2, 3, 4)), ("1", 1, struct.pack("<q", 5)), ("2", 2, struct.pack("<2e", 0.5, 2.0))]


def legacy_file(main, storages, little_endian=True):
    magic = Pickle().op(0x8A, 10)
    magic.b += (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
    protocol = Pickle().int(1001).finish()
    sys_info = Pickle().op(b"}").str("little_endian").op(0x88 if little_endian else 0x89, b"s").finish()
    keys = Pickle().op(b"]", b"(")
    for k, _, _ in storages:
        keys.str(k)
    keys = keys.op(b"e").finish()
    data = magic.finish() + protocol + sys_info + main + keys
    for _, numel, raw in storages:
        data += struct.pack("<Q", numel) + raw
    return data


def zip_file(main, storages, prefix="archive", extra=True):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        def write(name, data):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            z.writestr(info, data)
        write(f"{prefix}/data.pkl", main)
        if extra:
            write(f"{prefix}/byteorder", b"little")
            write(f"{prefix}/version", b"3\n")
        for key, _, raw in storages:
            write(f"{prefix}/data/{key}", raw)
    return buf.getvalue()


def pth_seeds():
    main = state_dict_pickle()
    out("pth_zip", "state_dict.pth", zip_file(main, STORAGES))
    simple = Pickle().begin_state_dict().str("w").tensor("FloatStorage", "0", 4, 0, [4], [1]).end_state_dict()
    out("pth_zip", "simple.pth", zip_file(simple, STORAGES[:1], prefix="model", extra=False))
    param = Pickle().begin_state_dict().str("p")
    param.glob("torch._utils", "_rebuild_parameter").op(b"(")
    param.tensor("FloatStorage", "0", 4, 0, [2, 2], [2, 1]).op(0x88)
    param.glob("collections", "OrderedDict").op(b")", b"R", b"t", b"R")
    param = param.end_state_dict()
    out("pth_zip", "parameter.pth", zip_file(param, STORAGES[:1]))
    deflated = io.BytesIO()
    with zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("archive/data.pkl", date_time=(2020, 1, 1, 0, 0, 0)), simple,
                   compress_type=zipfile.ZIP_DEFLATED)
        z.writestr(zipfile.ZipInfo("archive/data/0", date_time=(2020, 1, 1, 0, 0, 0)), f32(1, 2, 3, 4),
                   compress_type=zipfile.ZIP_DEFLATED)
    out("pth_zip", "deflated.pth", deflated.getvalue())

    out("pth_legacy", "state_dict.pth", legacy_file(main, STORAGES))
    out("pth_legacy", "simple.pth", legacy_file(simple, STORAGES[:1]))
    out("pth_legacy", "parameter.pth", legacy_file(param, STORAGES[:1]))
    out("pth_legacy", "big_endian.pth", legacy_file(simple, [("0", 4, struct.pack(">4f", 1, 2, 3, 4))], False))

    out("pickle", "state_dict.pkl", main)
    out("pickle", "parameter.pkl", param)
    # Real torch.save output: the zip fixture's data.pkl, the legacy fixture's first pickles.
    real_zip = os.path.join(SHARED, "gfla", "gfla_market128x64_weights.pth")
    if os.path.exists(real_zip):
        with zipfile.ZipFile(real_zip) as z:
            name = next(n for n in z.namelist() if n.endswith("data.pkl"))
            out("pickle", "torch_zip_data.pkl", z.read(name))
    legacy = os.path.join(SHARED, "gfla", "gfla_fashion64_weights_legacy.pth")
    if os.path.exists(legacy):
        with open(legacy, "rb") as f:
            data = f.read()
        pos, ends = 0, []
        for _ in range(5):
            for _op, _arg, p in pickletools.genops(io.BytesIO(data[pos:])):
                end = p
            pos += end + 1
            ends.append(pos)
        out("pickle", "torch_legacy_main.pkl", data[ends[2]:ends[3]])
        # The real header pickles and key list with the first storage records only (the loader
        # reports the rest truncated after walking the real pickles).
        out("pth_legacy", "torch_legacy_truncated.pth", data[:ends[4] + 4096])


# --- TFLite -------------------------------------------------------------------------------------
def tflite_model(tensors, ops, inputs, outputs):
    """A one-subgraph model. tensors: (name, shape, type, data bytes or None, sparsity or None);
    ops: (builtin code, input ids (-1 = absent), output ids, (options type, options fn) or None)."""
    import flatbuffers
    import tflite
    b = flatbuffers.Builder(1024)

    def ints(start, values):
        start(b, len(values))
        for v in reversed(values):
            b.PrependInt32(v)
        return b.EndVector()

    def tables(start, offsets):
        start(b, len(offsets))
        for o in reversed(offsets):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    buffers, tensor_offsets = [], []
    tflite.BufferStart(b)
    buffers.append(tflite.BufferEnd(b))
    for name, shape, ttype, data, sparsity in tensors:
        buf = 0
        if data is not None:
            tflite.BufferStartDataVector(b, len(data))
            for byte in reversed(data):
                b.PrependUint8(byte)
            vec = b.EndVector()
            tflite.BufferStart(b)
            tflite.BufferAddData(b, vec)
            buffers.append(tflite.BufferEnd(b))
            buf = len(buffers) - 1
        sp = sparsity(b) if sparsity else None
        n = b.CreateString(name)
        sh = ints(tflite.TensorStartShapeVector, shape)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, sh)
        tflite.TensorAddType(b, ttype)
        tflite.TensorAddBuffer(b, buf)
        tflite.TensorAddName(b, n)
        if sp is not None:
            tflite.TensorAddSparsity(b, sp)
        tensor_offsets.append(tflite.TensorEnd(b))
    codes = sorted({op[0] for op in ops})
    op_offsets = []
    for code, ins, outs, options in ops:
        i = ints(tflite.OperatorStartInputsVector, ins)
        o = ints(tflite.OperatorStartOutputsVector, outs)
        opt = options[1](b) if options else None
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, codes.index(code))
        tflite.OperatorAddInputs(b, i)
        tflite.OperatorAddOutputs(b, o)
        if options:
            tflite.OperatorAddBuiltinOptionsType(b, options[0])
            tflite.OperatorAddBuiltinOptions(b, opt)
        op_offsets.append(tflite.OperatorEnd(b))
    tv = tables(tflite.SubGraphStartTensorsVector, tensor_offsets)
    ov = tables(tflite.SubGraphStartOperatorsVector, op_offsets)
    gi = ints(tflite.SubGraphStartInputsVector, inputs)
    go = ints(tflite.SubGraphStartOutputsVector, outputs)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tv)
    tflite.SubGraphAddInputs(b, gi)
    tflite.SubGraphAddOutputs(b, go)
    tflite.SubGraphAddOperators(b, ov)
    graphs = tables(tflite.ModelStartSubgraphsVector, [tflite.SubGraphEnd(b)])
    code_offsets = []
    for code in codes:
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddVersion(b, 1)
        code_offsets.append(tflite.OperatorCodeEnd(b))
    cv = tables(tflite.ModelStartOperatorCodesVector, code_offsets)
    bv = tables(tflite.ModelStartBuffersVector, buffers)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, cv)
    tflite.ModelAddSubgraphs(b, graphs)
    tflite.ModelAddBuffers(b, bv)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def tflite_seeds():
    data = os.path.join(ROOT, "tests", "data")
    for name in sorted(os.listdir(data)):
        if name.endswith(".tflite"):
            with open(os.path.join(data, name), "rb") as f:
                out("tflite", name, f.read())
    try:
        import tflite
    except ImportError:
        print("no tflite/flatbuffers packages: only tests/data's models as TFLite seeds", file=sys.stderr)
        return
    Op, T, BO = tflite.BuiltinOperator, tflite.TensorType, tflite.BuiltinOptions
    F32, I32, F16 = T.FLOAT32, T.INT32, T.FLOAT16

    def conv_opts(stride, padding, act):
        def f(b):
            tflite.Conv2DOptionsStart(b)
            tflite.Conv2DOptionsAddPadding(b, padding)
            tflite.Conv2DOptionsAddStrideW(b, stride)
            tflite.Conv2DOptionsAddStrideH(b, stride)
            tflite.Conv2DOptionsAddFusedActivationFunction(b, act)
            return tflite.Conv2DOptionsEnd(b)
        return (BO.Conv2DOptions, f)

    def dw_opts(stride, padding, act):
        def f(b):
            tflite.DepthwiseConv2DOptionsStart(b)
            tflite.DepthwiseConv2DOptionsAddPadding(b, padding)
            tflite.DepthwiseConv2DOptionsAddStrideW(b, stride)
            tflite.DepthwiseConv2DOptionsAddStrideH(b, stride)
            tflite.DepthwiseConv2DOptionsAddDepthMultiplier(b, 1)
            tflite.DepthwiseConv2DOptionsAddFusedActivationFunction(b, act)
            return tflite.DepthwiseConv2DOptionsEnd(b)
        return (BO.DepthwiseConv2DOptions, f)

    def add_opts(act):
        def f(b):
            tflite.AddOptionsStart(b)
            tflite.AddOptionsAddFusedActivationFunction(b, act)
            return tflite.AddOptionsEnd(b)
        return (BO.AddOptions, f)

    def pool_opts(size, stride, padding):
        def f(b):
            tflite.Pool2DOptionsStart(b)
            tflite.Pool2DOptionsAddPadding(b, padding)
            tflite.Pool2DOptionsAddStrideW(b, stride)
            tflite.Pool2DOptionsAddStrideH(b, stride)
            tflite.Pool2DOptionsAddFilterWidth(b, size)
            tflite.Pool2DOptionsAddFilterHeight(b, size)
            return tflite.Pool2DOptionsEnd(b)
        return (BO.Pool2DOptions, f)

    def resize_opts(align, half):
        def f(b):
            tflite.ResizeBilinearOptionsStart(b)
            tflite.ResizeBilinearOptionsAddAlignCorners(b, align)
            tflite.ResizeBilinearOptionsAddHalfPixelCenters(b, half)
            return tflite.ResizeBilinearOptionsEnd(b)
        return (BO.ResizeBilinearOptions, f)

    def d2s_opts(block):
        def f(b):
            tflite.DepthToSpaceOptionsStart(b)
            tflite.DepthToSpaceOptionsAddBlockSize(b, block)
            return tflite.DepthToSpaceOptionsEnd(b)
        return (BO.DepthToSpaceOptions, f)

    def reshape_opts(shape):
        def f(b):
            tflite.ReshapeOptionsStartNewShapeVector(b, len(shape))
            for v in reversed(shape):
                b.PrependInt32(v)
            vec = b.EndVector()
            tflite.ReshapeOptionsStart(b)
            tflite.ReshapeOptionsAddNewShape(b, vec)
            return tflite.ReshapeOptionsEnd(b)
        return (BO.ReshapeOptions, f)

    def concat_opts(axis):
        def f(b):
            tflite.ConcatenationOptionsStart(b)
            tflite.ConcatenationOptionsAddAxis(b, axis)
            return tflite.ConcatenationOptionsEnd(b)
        return (BO.ConcatenationOptions, f)

    def floats(n, fmt="<f"):
        return b"".join(struct.pack(fmt, 0.25 * (i % 7) - 0.5) for i in range(n))

    def i32s(*values):
        return b"".join(struct.pack("<i", v) for v in values)

    SAME, VALID = tflite.Padding.SAME, tflite.Padding.VALID
    NONE, RELU, RELU6 = 0, 1, 3
    # A BlazePose-like block: conv (f16 weights dequantized), depthwise, add, pad, pool, resize,
    # depth-to-space, reshape, concat, logistic.
    t = [
        ("input", [1, 4, 4, 2], F32, None, None),            # 0
        ("conv_w16", [4, 3, 3, 2], F16, floats(72, "<e"), None),  # 1
        ("conv_w", [4, 3, 3, 2], F32, None, None),           # 2 (DEQUANTIZE)
        ("conv_b", [4], F32, floats(4), None),                # 3
        ("conv", [1, 2, 2, 4], F32, None, None),              # 4
        ("dw_w", [1, 3, 3, 4], F32, floats(36), None),        # 5
        ("dw_b", [4], F32, floats(4), None),                  # 6
        ("dw", [1, 2, 2, 4], F32, None, None),                # 7
        ("add", [1, 2, 2, 4], F32, None, None),               # 8
        ("pads", [4, 2], I32, i32s(0, 0, 1, 1, 1, 1, 0, 0), None),  # 9
        ("pad", [1, 4, 4, 4], F32, None, None),               # 10
        ("pool", [1, 2, 2, 4], F32, None, None),              # 11
        ("size", [2], I32, i32s(4, 4), None),                 # 12
        ("resize", [1, 4, 4, 4], F32, None, None),            # 13
        ("d2s", [1, 8, 8, 1], F32, None, None),               # 14
        ("shape", [2], I32, i32s(1, -1), None),               # 15
        ("flat", [1, 64], F32, None, None),                   # 16
        ("flat2", [1, 64], F32, None, None),                  # 17
        ("concat", [1, 128], F32, None, None),                # 18
        ("out", [1, 128], F32, None, None),                   # 19
    ]
    ops = [
        (Op.DEQUANTIZE, [1], [2], None),
        (Op.CONV_2D, [0, 2, 3], [4], conv_opts(2, SAME, RELU)),
        (Op.DEPTHWISE_CONV_2D, [4, 5, 6], [7], dw_opts(1, SAME, RELU6)),
        (Op.ADD, [4, 7], [8], add_opts(RELU)),
        (Op.PAD, [8, 9], [10], None),
        (Op.MAX_POOL_2D, [10], [11], pool_opts(2, 2, VALID)),
        (Op.RESIZE_BILINEAR, [11, 12], [13], resize_opts(False, True)),
        (Op.DEPTH_TO_SPACE, [13], [14], d2s_opts(2)),
        (Op.RESHAPE, [14, 15], [16], reshape_opts([1, 64])),
        (Op.RESHAPE, [14], [17], reshape_opts([1, 64])),
        (Op.CONCATENATION, [16, 17], [18], concat_opts(-1)),
        (Op.LOGISTIC, [18], [19], None),
    ]
    out("tflite", "blaze_block.tflite", tflite_model(t, ops, [0], [19, 8]))

    # Conv without bias (optional input -1), VALID, stride 1, two graph inputs added.
    t2 = [
        ("a", [1, 3, 3, 1], F32, None, None), ("b", [1, 3, 3, 1], F32, None, None),
        ("sum", [1, 3, 3, 1], F32, None, None), ("w", [2, 2, 2, 1], F32, floats(8), None),
        ("y", [], F32, None, None),
    ]
    out("tflite", "add_conv_nobias.tflite", tflite_model(t2, [
        (Op.ADD, [0, 1], [2], add_opts(NONE)),
        (Op.CONV_2D, [2, 3, -1], [4], conv_opts(1, VALID, NONE)),
    ], [0, 1], [4]))

    # DENSIFY of CSR-sparse weights feeding a 1x1 conv (BlazePose's sparse pointwise convs).
    def csr(b):
        def dim(fmt, dense, seg=None, idx=None):
            vecs = []
            for values in (seg, idx):
                if values is None:
                    vecs.append(None)
                    continue
                tflite.Int32VectorStartValuesVector(b, len(values))
                for v in reversed(values):
                    b.PrependInt32(v)
                vec = b.EndVector()
                tflite.Int32VectorStart(b)
                tflite.Int32VectorAddValues(b, vec)
                vecs.append(tflite.Int32VectorEnd(b))
            tflite.DimensionMetadataStart(b)
            tflite.DimensionMetadataAddFormat(b, fmt)
            tflite.DimensionMetadataAddDenseSize(b, dense)
            if vecs[0] is not None:
                tflite.DimensionMetadataAddArraySegmentsType(b, tflite.SparseIndexVector.Int32Vector)
                tflite.DimensionMetadataAddArraySegments(b, vecs[0])
                tflite.DimensionMetadataAddArrayIndicesType(b, tflite.SparseIndexVector.Int32Vector)
                tflite.DimensionMetadataAddArrayIndices(b, vecs[1])
            return tflite.DimensionMetadataEnd(b)
        # [4, 1, 1, 2]: three dense dimensions, the last one CSR (4 of the 8 values stored).
        dims = [dim(0, 4), dim(0, 1), dim(0, 1), dim(1, 0, [0, 1, 3, 3, 4], [1, 0, 1, 0])]
        tflite.SparsityParametersStartTraversalOrderVector(b, 4)
        for v in reversed([0, 1, 2, 3]):
            b.PrependInt32(v)
        order = b.EndVector()
        tflite.SparsityParametersStartDimMetadataVector(b, len(dims))
        for d in reversed(dims):
            b.PrependUOffsetTRelative(d)
        dm = b.EndVector()
        tflite.SparsityParametersStart(b)
        tflite.SparsityParametersAddTraversalOrder(b, order)
        tflite.SparsityParametersAddDimMetadata(b, dm)
        return tflite.SparsityParametersEnd(b)

    t3 = [
        ("x", [1, 2, 2, 2], F32, None, None),
        ("w_sparse", [4, 1, 1, 2], F32, floats(4), csr),
        ("w", [4, 1, 1, 2], F32, None, None),
        ("y", [1, 2, 2, 4], F32, None, None),
    ]
    out("tflite", "sparse_conv.tflite", tflite_model(t3, [
        (Op.DENSIFY, [1], [2], None),
        (Op.CONV_2D, [0, 2, -1], [3], conv_opts(1, SAME, RELU6)),
    ], [0], [3]))


# --- images -------------------------------------------------------------------------------------
def image_seeds():
    try:
        from PIL import Image
    except ImportError:
        print("no Pillow: image seeds left as they are", file=sys.stderr)
        return
    import random
    rng = random.Random(1)
    rgb = Image.new("RGB", (13, 9))
    rgb.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(13 * 9)])

    def save(name, img, fmt, **kw):
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        out("image", name, buf.getvalue())

    save("rgb.png", rgb, "PNG")
    save("rgba.png", rgb.convert("RGBA"), "PNG")
    save("gray.png", rgb.convert("L"), "PNG")
    save("gray_alpha.png", rgb.convert("LA"), "PNG")
    save("palette.png", rgb.convert("P"), "PNG")
    save("bilevel.png", rgb.convert("1"), "PNG")
    save("gray16.png", rgb.convert("I;16"), "PNG")
    save("baseline.jpg", rgb, "JPEG", quality=80)
    save("progressive.jpg", rgb, "JPEG", quality=60, progressive=True)
    save("gray.jpg", rgb.convert("L"), "JPEG")
    save("subsampled.jpg", rgb.resize((17, 16)), "JPEG", subsampling=2)
    save("cmyk.jpg", rgb.convert("CMYK"), "JPEG")


if __name__ == "__main__":
    pose_seeds()
    timeline_seeds()
    safetensors_seeds()
    pth_seeds()
    tflite_seeds()
    image_seeds()
    for target in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, target))
        size = sum(os.path.getsize(os.path.join(CORPUS, target, f)) for f in files)
        print(f"{target}: {len(files)} seeds, {size} bytes")
