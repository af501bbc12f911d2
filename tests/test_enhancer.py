"""The Enhancer: ONNX Runtime against an independent numpy network, tiles, bit depths, sizes, groups, no torch."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import mtvir_decoder as m
import onnx
from mtvir_decoder.descriptor import ADD, CONV, SE, SHUFFLE, UNSHUFFLE
from conftest import frame, perturbed, random_params


def numpy_network(arch: m.Architecture, params: m.Params, x: np.ndarray) -> np.ndarray:
    """Plain float64 numpy: direct convolution with zero padding, box mean with zeros outside counted in."""
    folded = params.folded(arch)

    def conv(t, w, b):
        k = w.shape[-1]
        p = np.pad(t, ((0, 0), (k // 2, k // 2), (k // 2, k // 2)))
        h, wd = t.shape[1:]
        out = np.zeros((w.shape[0], h, wd))
        for dy in range(k):
            for dx in range(k):
                out += np.einsum("oc,chw->ohw", w[:, :, dy, dx].astype(np.float64), p[:, dy:dy + h, dx:dx + wd])
        return out + b.astype(np.float64)[:, None, None]

    def box_mean(t, k):
        p = np.pad(t, ((0, 0), (k // 2, k // 2), (k // 2, k // 2)))
        h, wd = t.shape[1:]
        return sum(p[:, dy:dy + h, dx:dx + wd] for dy in range(k) for dx in range(k)) / (k * k)

    h, w, r = *x.shape, arch.block  # extended with zeros (after centring) to multiples of the block
    outs = [np.pad(x[None].astype(np.float64) - arch.input_offset, ((0, 0), (0, -h % r), (0, -w % r)))]
    for n in arch.nodes:
        if n.op == UNSHUFFLE:  # channel c r^2 + i r + j <- sample (i, j) of each block of channel c, by loops
            t, b = outs[n.a], n.b
            outs.append(np.stack([t[c, i::b, j::b] for c in range(t.shape[0]) for i in range(b) for j in range(b)]))
        elif n.op == SHUFFLE:
            t, b = outs[n.a], n.b
            out = np.zeros((t.shape[0] // b ** 2, t.shape[1] * b, t.shape[2] * b))
            for c in range(out.shape[0]):
                for i in range(b):
                    for j in range(b):
                        out[c, i::b, j::b] = t[c * b * b + i * b + j]
            outs.append(out)
        elif n.op == CONV:
            y = conv(outs[n.a], *folded[n.b])
            outs.append(np.maximum(y, 0) if n.c else y)
        elif n.op == ADD:
            y = outs[n.a] + outs[n.b]
            outs.append(np.maximum(y, 0) if n.c else y)
        elif n.op == SE:
            gate = 1 / (1 + np.exp(-conv(box_mean(outs[n.a], n.c), *folded[n.b])))
            outs.append(outs[n.a] * gate)
    return (x + outs[-1][0, :h, :w]) if arch.global_residual else outs[-1][0, :h, :w]


@pytest.fixture(scope="module")
def strong():
    """A model whose correction is large (tens of levels), so that tile seams would show."""
    arch = m.sefcnn()
    ref = m.Reference(arch, random_params(arch, 7, gain=3.0))
    return ref, m.write(arch, [(0, 1, ref.params, m.Coding())], ref)


def test_onnx_runtime_equals_numpy(strong):
    ref, data = strong
    enh = m.Enhancer(data, reference=ref, providers=["CPUExecutionProvider"])
    x = frame(37, 45, 3).astype(np.float32) / 255
    got = enh.run_float(x)
    want = numpy_network(ref.arch, ref.params, x)
    assert np.abs(want - x).mean() > 0.02  # a real correction
    assert np.abs(got - want).max() < 1e-4


@pytest.fixture(scope="module")
def light_el():
    """The light tier's network (unshuffle by 2, 16 channels) and a nested one (an unshuffle of 8 channels),
    self-contained, with large corrections."""
    vectors = __import__("conftest")._make_vectors()
    return [(arch, m.write(arch, [(0, 1, random_params(arch, 5, gain=3.0), m.Coding())], None))
            for arch in (m.descriptor.light(), vectors.nested_blocks())]


@pytest.mark.parametrize("h,w", [(144, 176), (37, 45), (3, 2)])
def test_unshuffle_networks_equal_numpy_at_any_size(light_el, h, w):
    for arch, data in light_el:
        el = m.read(data)
        assert el.version_minor == 1 and arch.block > 1
        x = frame(h, w, 3).astype(np.float32) / 255
        want = numpy_network(arch, el.groups[0].params, x)
        assert np.abs(want - x).mean() > 0.01
        assert np.abs(m.Enhancer(data).run_float(x) - want).max() < 1e-4


def test_strided_convolutions_at_both_ends(light_el, strong):
    # an unshuffled plane and the convolution that alone reads it run as one stride-2 convolution, and the last
    # convolution's 4 outputs and their shuffle as one of stride 2 and 16 outputs (the full network's single output:
    # stride 4); the same sums: outputs are checked against numpy above at odd sizes. The nested network's unshuffle
    # of 8 channels stays SpaceToDepth
    cases = [(arch, m.read(data).groups[0].params.folded(arch)) for arch, data in light_el]
    cases.append((strong[0].arch, strong[0].params.folded(strong[0].arch)))
    for (arch, params), unshuffles, heads, tail in zip(cases, ([1, 0], [2, 1], [0, 0]), ([[2, 2]], [[2, 2]], []), (2, 2, 4)):
        plain, fused = (onnx.load_from_string(m.graph.build(arch, params, strided=s)).graph.node
                        for s in (False, True))
        assert [[n.op_type for n in g].count("SpaceToDepth") for g in (plain, fused)] == unshuffles
        strides = [list(a.ints) for n in fused for a in n.attribute if a.name == "strides"]
        assert strides == heads + [[tail, tail]]
        shuffles = [a.i for n in fused if n.op_type == "DepthToSpace" for a in n.attribute if a.name == "blocksize"]
        assert shuffles[-1] == 4 and [n.op_type for n in fused][-2:] == ["Slice", "Add"]
        # planes whose sizes the tail's 4 divides (144 x 176 above) need no crop
        aligned = onnx.load_from_string(m.graph.build(arch, params, aligned=True)).graph.node
        assert [n.op_type for n in aligned][-2:] == ["DepthToSpace", "Add"] and m.graph.tail_block(arch) == 4


def test_bands_of_rows_at_once_equal_one_run(light_el, strong):
    # a plane that runs whole is cut into bands of rows, each with the halo, run at once on single-threaded sessions;
    # the same samples as one run on ONNX Runtime's threads (samples in, and floats for a plane the block does not
    # divide). The full network runs whole on ONNX Runtime's threads (whose 1.88x on 2 cores bands do not beat)
    for data, ref, h, w, banded in ((light_el[0][1], None, 360, 204, True), (light_el[1][1], None, 302, 98, True),
                                    (strong[1], strong[0], 600, 64, False)):
        luma = frame(h, w, 5)
        one, two = (m.Enhancer(data, reference=ref, threads=t, tile=4096) for t in (1, 2))
        assert np.array_equal(one.enhance(luma), two.enhance(luma)), (h, w)
        assert any(k[3] for k in two._sessions) == banded and not any(k[3] for k in one._sessions)
        box = (h // 2 - 7, h // 2 + 9, 3, w - 5)  # a box across the bands' seam
        assert np.array_equal(two.enhance_region(luma, box), one.enhance(luma)[box[0]:box[1], box[2]:box[3]])
    # a whole frame of the light tier: luma in bands, U and V each whole beside the other, all at once
    refs = [next(r for r in m.references.starting_points("light", classes=False, plane=p) if r.name.endswith("qp37"))
            for p in ("luma", "chroma")]
    h, w = 300, 404
    y, uv = (m.write(r.arch, [(0, 1, r.params, m.Coding())], r, w // s, h // s, 8, 1) for r, s in zip(refs, (1, 2)))
    colour = m.tiers.write({"light": {"y": y, "uv": uv}}, "4:2:0")
    frame_in = (frame(h, w, 1), frame(h // 2, w // 2, 2), frame(h // 2, w // 2, 3))
    one, two = (m.Enhancer(colour, threads=t) for t in (1, 2))
    assert all(np.array_equal(a, b) for a, b in zip(one.enhance_frame(*frame_in), two.enhance_frame(*frame_in)))
    assert [k[3] for k in two.chroma["u"]._sessions] == [True] and len(two._bands(0, 8, h, w, 1)[0]) == 2


def test_unshuffle_networks_tiled_equal_whole(light_el):
    luma = frame(203, 251, 4)
    for arch, data in light_el:
        enh = m.Enhancer(data)
        whole = enh.enhance(luma)
        for tile in (16, 24, 64, 100):
            enh.tile = tile
            assert np.abs(enh.enhance(luma).astype(int) - whole).max() <= 1
        for box in [(0, 40, 0, 50), (101, 180, 61, 251), (50, 51, 201, 202)]:
            y0, y1, x0, x1 = box
            assert np.abs(enh.enhance_region(luma, box).astype(int) - whole[y0:y1, x0:x1]).max() <= 1


def test_tiled_equals_whole_frame(strong):
    ref, data = strong
    enh = m.Enhancer(data, reference=ref)
    luma = frame(203, 251, 4)
    whole = enh.run_float(luma.astype(np.float32) / 255, tile=4096)
    assert np.abs(whole - luma / 255.0).mean() > 0.02
    for tile in (24, 64, 100):
        tiled = enh.run_float(luma.astype(np.float32) / 255, tile=tile)
        assert np.abs(tiled - whole).max() < 1e-5, tile
    enh.tile = 64
    out = enh.enhance(luma)
    enh.tile = 4096
    assert np.array_equal(out, enh.enhance(luma))


def test_region_equals_the_whole_frame_there(strong):
    ref, data = strong
    enh = m.Enhancer(data, reference=ref)
    luma = frame(203, 251, 4)
    whole = enh.enhance(luma)
    boxes = [(0, 203, 0, 251), (0, 40, 0, 50), (100, 180, 60, 251), (50, 51, 200, 201), (150, 203, 10, 120)]
    for box in boxes:  # interior, edges and corners of the frame, a single pixel
        y0, y1, x0, x1 = box
        got = enh.enhance_region(luma, box)
        assert np.abs(got.astype(int) - whole[y0:y1, x0:x1]).max() <= 1 and (got == whole[y0:y1, x0:x1]).mean() > 0.999
    with pytest.raises(m.InputMismatchError, match="not inside"):
        enh.enhance_region(luma, (0, 204, 0, 10))


@pytest.mark.parametrize("h,w", [(144, 176), (1, 1), (7, 13), (35, 35), (99, 2)])
def test_sizes_8_bit(strong, h, w):
    ref, data = strong
    luma = frame(h, w, 5)
    out = m.Enhancer(data, reference=ref).enhance(luma)
    assert out.dtype == np.uint8 and out.shape == (h, w)
    want = np.clip(np.rint(numpy_network(ref.arch, ref.params, luma / 255.0) * 255), 0, 255)
    assert np.abs(out.astype(int) - want).max() <= 1


def test_a_large_plane_is_converted_exactly_on_either_path_and_non_finite_values_refused(light_el, monkeypatch):
    """At 720p the light network runs the plane whole, on its samples (divided in the graph), or in tiles of float
    input (divided here, in two halves at once): either way the samples are the spec's (steps 1 and 5 to the bit
    against the session's own float output), 8- and 10-bit; and a NaN or an infinity in either half, or finite
    values whose squares overflow, are told apart."""
    import importlib
    module = importlib.import_module("mtvir_decoder.enhance")
    for depth, tile in ((8, 1024), (8, 256), (10, 1024), (10, 256)):
        enh = m.Enhancer(light_el[0][1], tile=tile)
        peak = (1 << depth) - 1
        luma = frame(720, 1280, 3, np.uint8 if depth == 8 else np.uint16, peak)
        assert enh._whole(720, 1280) == (tile == 1024)
        v = enh.run_float(np.divide(luma, np.float32(peak), dtype=np.float32))
        want = np.rint(np.clip(v, 0, 1) * np.float32(peak)).astype(luma.dtype)
        assert np.array_equal(enh.enhance(luma, bit_depth=depth), want), (depth, tile)
    session_output, enh = v, m.Enhancer(light_el[0][1])  # the whole plane: bands of rows, each one run
    assert enh._workers == 1 or len(enh._bands(0, 10, 720, 1280, 1)[0]) > 1

    def run(session, x, v):  # the session's output for the band of rows it was given (found by its first row)
        top = next(r for r in range(720) if np.array_equal(luma[r], x[0, 0, 0]))
        return v[top:top + x.shape[2]].copy()[None, None]
    for where, bad in (((700, 5), np.inf), ((3, 1000), np.nan), ((360, 0), -np.inf), ((719, 1279), 3e30)):
        v = session_output.copy()
        v[where] = bad
        monkeypatch.setattr(module, "_run", lambda session, x, v=v: run(session, x, v))
        if np.isfinite(bad):  # finite, only huge: a sample like any other (clipped to the peak)
            assert enh.enhance(luma, bit_depth=10)[where] == 1023
        else:
            with pytest.raises(m.FormatError, match="non-finite"):
                enh.enhance(luma, bit_depth=10)


def test_10_bit(arch, reference):
    data = m.write(arch, [(0, 1, reference.params, m.Coding())], reference, 33, 21, 10, 1)
    luma = frame(21, 33, 6, np.uint16, 1023)
    enh = m.Enhancer(data, reference=reference)
    out = enh.enhance(luma, 0)
    assert out.dtype == np.uint16 and out.max() <= 1023
    want = np.clip(np.rint(numpy_network(arch, reference.params, luma / 1023.0) * 1023), 0, 1023)
    assert np.abs(out.astype(int) - want).max() <= 1
    with pytest.raises(m.InputMismatchError):
        enh.enhance(luma.astype(np.uint8))  # 8-bit frame for a 10-bit EL
    with pytest.raises(m.InputMismatchError):
        enh.enhance(np.full((21, 33), 4000, np.uint16))  # not 10-bit samples


def test_input_mismatch(arch, reference):
    data = m.write(arch, [(0, 3, reference.params, m.Coding())], reference, 16, 8, 8, 3)
    enh = m.Enhancer(data, reference=reference)
    for bad in (np.zeros((8, 17), np.uint8), np.zeros((8, 16), np.float32), np.zeros((2, 8, 16), np.uint8)):
        with pytest.raises(m.InputMismatchError):
            enh.enhance(bad, 0)
    with pytest.raises(m.InputMismatchError):
        enh.enhance(np.zeros((8, 16), np.uint8), 3)  # beyond the video's frames


def test_groups_and_pass_through(el_bytes, reference, online_params):
    enh = m.Enhancer(el_bytes, reference=reference)
    frames = [frame(20, 24, i) for i in range(10)]
    out = list(enh.enhance_frames(frames))
    for i in (4, 5, 8, 9):
        assert np.array_equal(out[i], frames[i])  # outside every group: untouched
    a = np.clip(np.rint(numpy_network(reference.arch, online_params, frames[0] / 255.0) * 255), 0, 255)
    b = np.clip(np.rint(numpy_network(reference.arch, reference.params, frames[7] / 255.0) * 255), 0, 255)
    assert np.abs(out[0].astype(int) - a).max() <= 1 and np.abs(out[7].astype(int) - b).max() <= 1
    with pytest.raises(m.InputMismatchError):
        enh.enhance(frames[0])  # several groups: the frame index is needed


def test_provider_and_missing_file(el_bytes, reference, tmp_path):
    enh = m.Enhancer(el_bytes, reference=reference)
    assert enh.provider in ("CPUExecutionProvider", "CUDAExecutionProvider")
    with pytest.raises(m.MtvirError):
        m.Enhancer(tmp_path / "missing.mtvir")


def test_fp16_graph_builds(strong):
    ref, _ = strong
    model = onnx.load_from_string(m.graph.build(ref.arch, ref.params.folded(ref.arch), "fp16"))
    onnx.checker.check_model(model)
    assert any(n.op_type == "Cast" for n in model.graph.node)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_the_sdks_onnx_bytes_are_the_onnx_packages(strong, light_el, precision):
    """The SDK writes its graphs' protobuf itself (a player needs no onnx package): byte for byte what onnx.helper
    writes for the same graph (the full network, the light and the nested unshuffling ones), and the checker passes."""
    from onnx import TensorProto, helper, numpy_helper
    from mtvir_decoder import onnx_writer as w
    kinds = {w.FLOAT: TensorProto.FLOAT, w.FLOAT16: TensorProto.FLOAT16, w.INT64: TensorProto.INT64}
    archs = [(strong[0].arch, strong[0].params)] + [(a, m.read(d).groups[0].params) for a, d in light_el]
    for arch, params in archs:
        ours = m.graph.build(arch, params.folded(arch), precision)
        parsed = onnx.load_from_string(ours)
        onnx.checker.check_model(parsed)
        g = parsed.graph  # rebuilt by onnx.helper from what was parsed, then serialized by protobuf
        nodes = [helper.make_node(n.op_type, list(n.input), list(n.output),
                                  **{a.name: helper.get_attribute_value(a) for a in n.attribute}) for n in g.node]
        inits = [numpy_helper.from_array(numpy_helper.to_array(t), t.name) for t in g.initializer]
        io = [helper.make_tensor_value_info(v.name, kinds[v.type.tensor_type.elem_type],
                                            [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
              for v in (*g.input, *g.output)]
        theirs = helper.make_model(helper.make_graph(nodes, g.name, io[:1], io[1:], inits),
                                   opset_imports=[helper.make_opsetid("", m.graph.OPSET)], producer_name="mtvir_decoder")
        theirs.ir_version = m.graph.IR_VERSION
        assert theirs.SerializeToString() == ours
    assert w.node("X", ["a"], ["b"], alpha=0.5, mode="CRD") == helper.make_node(
        "X", ["a"], ["b"], alpha=0.5, mode="CRD").SerializeToString()


def test_enhance_without_torch_in_a_fresh_interpreter(el_bytes, reference, tmp_path):
    (tmp_path / "ref.mtvir").write_bytes(reference.to_bytes())
    (tmp_path / "el.mtvir").write_bytes(el_bytes)
    code = textwrap.dedent(f"""
        import os, sys
        os.environ["MTVIR_REFERENCE_PATH"] = {str(tmp_path)!r}
        import numpy as np
        from mtvir_decoder import Enhancer
        out = Enhancer({str(tmp_path / "el.mtvir")!r}).enhance(np.full((30, 40), 99, np.uint8), 1)
        assert out.shape == (30, 40)
        assert "torch" not in sys.modules, "torch was imported"
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
    assert "Failed to load" not in res.stderr  # the CUDA probe is quiet


def test_sessions_leave_the_hosts_onnx_runtime_alone_and_tiles_follow_memory():
    """The SDK's sessions change nothing process-wide: a host's own ONNX Runtime sessions with default options run
    before and after an Enhancer (a global thread pool, tried for speed, made ONNX Runtime refuse them), and an
    Enhancer with its own thread count runs beside one with the default. A light network holds 4 values a pixel
    against the full one's 16: its tiles are twice as wide for the same memory."""
    import onnxruntime as ort
    from mtvir_decoder import onnx_writer as w
    host = w.model([w.node("Relu", ["x"], ["y"])], "host", [w.value_info("x", w.FLOAT, [1])],
                   [w.value_info("y", w.FLOAT, [1])], [], m.graph.OPSET, m.graph.IR_VERSION)
    run = lambda: ort.InferenceSession(host, providers=["CPUExecutionProvider"]).run(None, {"x": np.ones(1, np.float32)})
    run()
    arch = m.descriptor.light()
    data = m.write(arch, [(0, 1, random_params(arch, 1), m.Coding())], None)
    out = m.Enhancer(data).enhance(np.full((64, 48), 99, np.uint8), 0)
    run()
    assert np.array_equal(m.Enhancer(data, threads=1).enhance(np.full((64, 48), 99, np.uint8), 0), out)
    assert (arch.values_per_pixel, m.sefcnn().values_per_pixel) == (4, 16)


def test_tiled_equals_whole_frame_with_the_trained_reference():
    ref = m.references.default()
    data = m.write(ref.arch, [(0, 1, ref.params, m.Coding())], ref)
    enh = m.Enhancer(data)  # found by id among the installed references
    x = frame(150, 190, 8).astype(np.float32) / 255
    whole = enh.run_float(x, tile=4096)
    assert np.abs(whole - x).mean() * 255 > 0.2  # the trained filter really corrects
    assert np.abs(enh.run_float(x, tile=48) - whole).max() < 1e-5


# --- mismatch detection -----------------------------------------------------------------------------------------
def test_mismatched_frames_are_refused_clearly():
    ref = m.references.default()
    el = m.write(ref.arch, [(0, 3, perturbed(ref.params, 1), m.Coding())], ref, 48, 40, 10, 3)
    enh = m.Enhancer(el)
    with pytest.raises(m.InputMismatchError, match="frame is 50x40, the EL applies to 48x40"):
        enh.enhance(frame(40, 50, 0, np.uint16, 1023), 0)
    with pytest.raises(m.InputMismatchError, match="uint8 plane for a 10-bit EL"):
        enh.enhance(frame(40, 48), 0)
    with pytest.raises(m.InputMismatchError, match="beyond 10 bits"):
        enh.enhance(np.full((40, 48), 4000, np.uint16), 0)
    with pytest.raises(m.InputMismatchError, match="frame 3 beyond the EL's 3 frames"):
        enh.enhance(frame(40, 48, 0, np.uint16, 1023), 3)
    stranger = m.Reference(ref.arch, perturbed(ref.params, 2), "elsewhere")
    with pytest.raises(m.UnknownReferenceError, match=stranger.id.hex()):
        m.Enhancer(m.write(ref.arch, [(0, 1, stranger.params, m.Coding())], stranger))
    with pytest.raises(m.ReferenceMismatchError):
        m.Enhancer(el, reference=stranger)


def test_shipped_references_one_per_qp_band():
    bands = m.references.starting_points(classes=False)
    assert [r.name for r in bands] == ["x265-qp22", "x265-qp27", "x265-qp32", "x265-qp37"]
    installed = m.references.installed()
    assert len({r.id for r in bands}) == 4 and all(r.id in installed for r in bands)  # decoders find each by id
    assert m.references.default().id in installed  # ELs made before the bands still decode


def test_shipped_camera_references_beside_the_bands():
    """Each band has a camera reference (the band's fine-tuned on camera content, the same network); the encoder's
    choices are the bands then the classes, each installed and found by its own id."""
    bands, every = m.references.starting_points(classes=False), m.references.starting_points()
    classes = every[len(bands):]
    assert [r.name for r in every[:len(bands)]] == [r.name for r in bands]
    assert [r.name for r in classes] == [f"{b.name}-camera" for b in bands]
    installed = m.references.installed()
    assert all(c.arch == b.arch and c.id != b.id and c.id in installed for b, c in zip(bands, classes))
    assert [r.name for r in m.references.starting_points("light")] == [f"light-{b.name}" for b in bands]


def test_shipped_chroma_references_one_per_band():
    """Each band's chroma reference (the full tier's: its luma reference fine-tuned on U and V; the light tier's:
    taught by the full one) is what the encoder offers chroma, of its tier's luma network."""
    for tier, prefix in (("full", "chroma-"), ("light", "light-chroma-")):
        bands = m.references.starting_points(tier, classes=False)
        chroma = m.references.starting_points(tier, plane="chroma")
        assert [r.name for r in chroma] == [prefix + b.name.removeprefix("light-") for b in bands]
        assert all(c.arch == b.arch and c.id != b.id for b, c in zip(bands, chroma))
    with pytest.raises(ValueError):
        m.references.starting_points(plane="alpha")
