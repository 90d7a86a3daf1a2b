"""Writes the tiny TFLite models of tests/data/ that exercise the interpreter's refusals.

    pip install tflite flatbuffers && python tests/reference/make_tiny_tflite.py

* `tiny_logistic.tflite`: input [1,2,2,1] -> LOGISTIC -> output (a valid model we run);
* `tiny_unsupported_op.tflite`: the same with AVERAGE_POOL_2D (an op we do not implement);
* `tiny_wrong_shape.tflite`: LOGISTIC whose output declares [1,3,3,1] for a [1,2,2,1] input.
"""

import os

import flatbuffers
import tflite

OUT = os.path.join(os.path.dirname(__file__), "..", "data")


def int_vector(b, start, values):
    start(b, len(values))
    for v in reversed(values):
        b.PrependInt32(v)
    return b.EndVector()


def model(opcode, out_shape):
    b = flatbuffers.Builder(1024)
    # Buffer 0: the schema's empty sentinel.
    tflite.BufferStart(b)
    empty = tflite.BufferEnd(b)
    tflite.ModelStartBuffersVector(b, 1)
    b.PrependUOffsetTRelative(empty)
    buffers = b.EndVector()

    tensors = []
    for name, shape in (("input", [1, 2, 2, 1]), ("output", out_shape)):
        n = b.CreateString(name)
        s = int_vector(b, tflite.TensorStartShapeVector, shape)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, s)
        tflite.TensorAddType(b, tflite.TensorType.FLOAT32)
        tflite.TensorAddBuffer(b, 0)
        tflite.TensorAddName(b, n)
        tensors.append(tflite.TensorEnd(b))
    tflite.SubGraphStartTensorsVector(b, len(tensors))
    for t in reversed(tensors):
        b.PrependUOffsetTRelative(t)
    tensors = b.EndVector()

    op_in = int_vector(b, tflite.OperatorStartInputsVector, [0])
    op_out = int_vector(b, tflite.OperatorStartOutputsVector, [1])
    options = None
    if opcode == tflite.BuiltinOperator.AVERAGE_POOL_2D:
        tflite.Pool2DOptionsStart(b)
        tflite.Pool2DOptionsAddStrideW(b, 1)
        tflite.Pool2DOptionsAddStrideH(b, 1)
        tflite.Pool2DOptionsAddFilterWidth(b, 1)
        tflite.Pool2DOptionsAddFilterHeight(b, 1)
        options = tflite.Pool2DOptionsEnd(b)
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
    tflite.OperatorAddInputs(b, op_in)
    tflite.OperatorAddOutputs(b, op_out)
    if options is not None:
        tflite.OperatorAddBuiltinOptionsType(b, tflite.BuiltinOptions.Pool2DOptions)
        tflite.OperatorAddBuiltinOptions(b, options)
    op = tflite.OperatorEnd(b)
    tflite.SubGraphStartOperatorsVector(b, 1)
    b.PrependUOffsetTRelative(op)
    ops = b.EndVector()

    g_in = int_vector(b, tflite.SubGraphStartInputsVector, [0])
    g_out = int_vector(b, tflite.SubGraphStartOutputsVector, [1])
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors)
    tflite.SubGraphAddInputs(b, g_in)
    tflite.SubGraphAddOutputs(b, g_out)
    tflite.SubGraphAddOperators(b, ops)
    graph = tflite.SubGraphEnd(b)
    tflite.ModelStartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(graph)
    graphs = b.EndVector()

    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, opcode)
    tflite.OperatorCodeAddBuiltinCode(b, opcode)
    tflite.OperatorCodeAddVersion(b, 1)
    code = tflite.OperatorCodeEnd(b)
    tflite.ModelStartOperatorCodesVector(b, 1)
    b.PrependUOffsetTRelative(code)
    codes = b.EndVector()

    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes)
    tflite.ModelAddSubgraphs(b, graphs)
    tflite.ModelAddBuffers(b, buffers)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def main():
    os.makedirs(OUT, exist_ok=True)
    logistic = tflite.BuiltinOperator.LOGISTIC
    for name, data in (
        ("tiny_logistic.tflite", model(logistic, [1, 2, 2, 1])),
        ("tiny_unsupported_op.tflite", model(tflite.BuiltinOperator.AVERAGE_POOL_2D, [1, 2, 2, 1])),
        ("tiny_wrong_shape.tflite", model(logistic, [1, 3, 3, 1])),
    ):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
