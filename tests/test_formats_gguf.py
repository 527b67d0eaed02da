"""GGUF headers: real llama.cpp files agree with gguf-py, written fixtures round-trip, hostile headers fail fast."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import gguf
import numpy as np
import pytest
from formats_support import CORPUS, CountingFile, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.formats.cursor import SPAN_STRIDE
from scanner.formats.errors import FormatError
from scanner.formats.gguf import DEFAULT_KEEP, MAX_SPECIAL_TOKENS, VOCABULARY, GGUFHeader, read_gguf, special_tokens
from scanner.fsview import RootFS

# DeepSeek's special tokens use full-width bars and U+2581 (lower one eighth block) as the space.
BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
USER = "<｜User｜>"

VOCABS = sorted((CORPUS / "gguf-vocab").glob("*.gguf")) if (CORPUS / "gguf-vocab").is_dir() else []
needs_corpus = pytest.mark.skipif(not VOCABS, reason=f"shared corpus not present at {CORPUS}")


def parse(path: Path, **options: object) -> GGUFHeader:
    with RootFS(None).open_regular(str(path)) as f:
        return read_gguf(f, path.stat().st_size, **options)  # type: ignore[arg-type]


def parse_counting(path: Path, **options: object) -> tuple[GGUFHeader | FormatError, CountingFile]:
    with CountingFile(path) as f:
        try:
            return read_gguf(f, path.stat().st_size, **options), f  # type: ignore[arg-type]
        except FormatError as e:
            return e, f


def _s(text: str | bytes, width: str = "Q") -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<" + width, len(raw)) + raw


def _header(kv_count: int, tensor_count: int = 0, version: int = 3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, tensor_count, kv_count)


def write_model(
    path: Path, *, endianess: gguf.GGUFEndian = gguf.GGUFEndian.LITTLE, tokens: int = 1000, tensor: bool = True
) -> Path:
    """A GGUF the way convert_hf_to_gguf writes one: general.*, base models, tokenizer arrays and a tensor."""
    writer = gguf.GGUFWriter(str(path), "llama", endianess=endianess)
    writer.add_name("Distilled-Qwen-7B")
    writer.add_base_model_count(1)
    writer.add_base_model_name(0, "DeepSeek R1 Distill Qwen 7B")
    writer.add_base_model_organization(0, "Deepseek Ai")
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("deepseek-r1-qwen")
    writer.add_tags(["text-generation", "distillation"])
    writer.add_languages(["en", "zh"])
    vocab = [f"tok{i}" for i in range(tokens - 3)] + [BOS, USER, "<think>"]
    writer.add_token_list(vocab)
    writer.add_token_types([1] * (tokens - 3) + [3, 3, 4])
    writer.add_token_scores([float(-i) for i in range(tokens)])
    writer.add_token_merges([f"t o{i}" for i in range(tokens)])
    writer.add_uint32("llama.context_length", 4096)
    writer.add_float32("llama.rope.freq_base", 10000.0)
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    writer.add_int64("general.file_type", -7)
    if tensor:
        writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# gguf-py's reader needs seconds per vocabulary file; the smaller files (a DeepSeek one among them)
# keep the comparison meaningful, and every corpus file is parsed by the model inventory tests.
COMPARED = [p for p in VOCABS if p.stat().st_size < 1_200_000]


@needs_corpus
@pytest.mark.parametrize("path", COMPARED, ids=lambda p: p.name)
def test_corpus_files_agree_with_gguf_py(path: Path) -> None:
    header = parse(path)
    reader = gguf.GGUFReader(str(path))
    scalar_keys = set()
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            assert header.array_lengths[name] == len(field.data), name
            if name in header.arrays:
                assert list(header.arrays[name]) == list(field.contents()), name
        else:
            scalar_keys.add(name)
            assert header.metadata[name] == field.contents(), name
    assert set(header.metadata) == scalar_keys
    assert header.tensor_count == len(reader.tensors)
    # Read again only the stretches of SPAN_STRIDE tokens that hold a special one, never the whole vocabulary.
    tokens = [t.encode() for t in reader.fields["tokenizer.ggml.tokens"].contents()]
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    blocks = {i // SPAN_STRIDE for i, kind in enumerate(types) if kind in (3, 4)}
    read_back = sum(len(t) + 8 for i, t in enumerate(tokens) if i // SPAN_STRIDE in blocks)
    assert header.bytes_read <= path.stat().st_size + read_back


@needs_corpus
def test_deepseek_llm_vocab_is_recognisable() -> None:
    header = parse(CORPUS / "gguf-vocab" / "ggml-vocab-deepseek-llm.gguf")
    assert header.metadata["tokenizer.ggml.pre"] == "deepseek-llm"
    assert header.metadata["general.name"] == "deepseek-llm"
    assert header.array_lengths["tokenizer.ggml.tokens"] == 102400
    specials = special_tokens(header)
    assert BOS in specials
    assert EOS in specials
    whole = parse(CORPUS / "gguf-vocab" / "ggml-vocab-deepseek-llm.gguf", keep_arrays=DEFAULT_KEEP | {VOCABULARY})
    assert len(whole.arrays[VOCABULARY]) == 102400
    assert special_tokens(whole) == specials  # read back where they lie = found in the decoded vocabulary


@needs_corpus
def test_arrays_not_asked_for_are_counted_not_kept() -> None:
    path = CORPUS / "gguf-vocab" / "ggml-vocab-deepseek-coder.gguf"
    header = parse(path, keep_arrays=frozenset())
    assert header.arrays == {}
    assert header.array_lengths["tokenizer.ggml.tokens"] == 32256
    assert special_tokens(header) == ()


def test_written_fixture_round_trips(tmp_path: Path) -> None:
    header = parse(write_model(tmp_path / "model.gguf"))
    assert header.version == 3
    assert header.byte_order == "little"
    assert header.tensor_count == 1
    assert header.metadata["general.architecture"] == "llama"
    assert header.metadata["general.name"] == "Distilled-Qwen-7B"
    assert header.metadata["general.base_model.count"] == 1
    assert header.metadata["general.base_model.0.name"] == "DeepSeek R1 Distill Qwen 7B"
    assert header.metadata["tokenizer.ggml.pre"] == "deepseek-r1-qwen"
    assert header.metadata["llama.context_length"] == 4096
    assert header.metadata["llama.rope.freq_base"] == 10000.0
    assert header.metadata["tokenizer.ggml.add_bos_token"] is True
    assert header.metadata["general.file_type"] == -7
    assert header.arrays["general.tags"] == ("text-generation", "distillation")
    assert header.arrays["general.languages"] == ("en", "zh")
    assert set(header.arrays) == DEFAULT_KEEP
    assert header.array_lengths["tokenizer.ggml.merges"] == 1000
    assert header.array_lengths["tokenizer.ggml.scores"] == 1000
    assert special_tokens(header) == (BOS, USER, "<think>")


def test_big_endian_files_are_read(tmp_path: Path) -> None:
    path = write_model(tmp_path / "be.gguf", endianess=gguf.GGUFEndian.BIG)
    assert path.read_bytes()[4:8] == b"\x00\x00\x00\x03"
    header = parse(path)
    assert header.byte_order == "big"
    assert header.metadata["llama.context_length"] == 4096
    assert header.metadata["general.file_type"] == -7
    assert header.arrays["tokenizer.ggml.token_type"][-3:] == (3, 3, 4)
    assert special_tokens(header)[-1] == "<think>"


def test_version_1_uses_32_bit_counts_and_lengths(tmp_path: Path) -> None:
    kvs = (
        _s("general.name", "I")
        + struct.pack("<I", 8)
        + _s("old-llama", "I")
        + _s("tokenizer.ggml.tokens", "I")
        + struct.pack("<III", 9, 8, 2)
        + _s("<s>", "I")
        + _s("</s>", "I")
    )
    path = write(tmp_path / "v1.gguf", b"GGUF" + struct.pack("<III", 1, 0, 2) + kvs)
    header = parse(path)
    assert header.version == 1
    assert header.metadata == {"general.name": "old-llama"}
    assert header.array_lengths["tokenizer.ggml.tokens"] == 2
    assert parse(path, keep_arrays=frozenset({VOCABULARY})).arrays[VOCABULARY] == ("<s>", "</s>")


def test_a_50_gb_sparse_model_costs_only_its_header(tmp_path: Path) -> None:
    path = write_model(tmp_path / "huge.gguf", tokens=150_000)
    with path.open("r+b") as f:
        f.truncate(50 * 2**30)
    header, f = parse_counting(path)
    assert isinstance(header, GGUFHeader)
    assert header.array_lengths["tokenizer.ggml.tokens"] == 150_000
    assert header.special_tokens == (BOS, USER, "<think>")  # read back from where the walk noted them
    assert header.bytes_read == f.bytes_read
    assert header.bytes_read < 8 * 2**20
    assert f.largest_read <= 1 * 2**20


def test_invalid_utf8_is_replaced_not_raised(tmp_path: Path) -> None:
    kvs = _s("general.name") + struct.pack("<I", 8) + _s(b"bad \xff\xfe name")
    header = parse(write(tmp_path / "m.gguf", _header(1) + kvs))
    assert header.metadata["general.name"] == "bad \ufffd\ufffd name"


def test_special_tokens_are_capped(tmp_path: Path) -> None:
    n = MAX_SPECIAL_TOKENS + 10
    writer = gguf.GGUFWriter(str(tmp_path / "specials.gguf"), "llama")
    writer.add_token_list([f"<{i}>" for i in range(n)])
    writer.add_token_types([3] * n)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    for keep in (DEFAULT_KEEP, DEFAULT_KEEP | {VOCABULARY}):  # read back, or from the decoded vocabulary
        found = special_tokens(parse(tmp_path / "specials.gguf", keep_arrays=keep))
        assert len(found) == MAX_SPECIAL_TOKENS and found[-1] == f"<{MAX_SPECIAL_TOKENS - 1}>"


HOSTILE = {
    "huge kv_count": (_header(2**63), "metadata entries, more than a file"),
    "kv_count over the cap": (_header(70_000) + b"\0" * 70_000 * 14, "more than the cap of 65536"),
    "huge tensor_count": (_header(0, tensor_count=2**62), "tensors, more than a file"),
    "huge key length": (
        _header(1) + struct.pack("<Q", 2**63 - 1) + b"\0" * 64,
        "key length 9223372036854775807 exceeds the file size",
    ),
    "huge string length": (
        _header(1) + _s("general.name") + struct.pack("<IQ", 8, 2**63 - 1) + b"x" * 64,
        r"GGUF key 0 \(general.name\): string length 9223372036854775807 exceeds the file size",
    ),
    "huge array length": (
        _header(1) + _s("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 2**61) + b"\0" * 64,
        "array of 2305843009213693952 float32 items exceeds the file size",
    ),
    "huge string array length": (
        _header(1) + _s("tokenizer.ggml.merges") + struct.pack("<IIQ", 9, 8, 2**60) + b"\0" * 64,
        "array of 1152921504606846976 string items exceeds the file size",
    ),
    "huge string inside an array": (
        _header(1) + _s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 2) + _s("a") + struct.pack("<Q", 2**40),
        "string 1 of the array has length 1099511627776, which exceeds the file size",
    ),
    "unknown value type": (
        _header(1) + _s("general.name") + struct.pack("<I", 13) + b"\0" * 8,
        "unknown value type 13",
    ),
    "unknown array item type": (
        _header(1) + _s("x") + struct.pack("<IIQ", 9, 4000, 1) + b"\0" * 8,
        "unknown value type 4000",
    ),
    "arrays nested three deep": (
        _header(1) + _s("x") + struct.pack("<IIQ", 9, 9, 1) + struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 0, 0),
        "nested deeper than 2 levels",
    ),
    "duplicate key": (
        _header(2) + (_s("general.name") + struct.pack("<I", 8) + _s("a")) * 2,
        r"GGUF key 1 \(general.name\): the key appears twice",
    ),
    "unsupported version": (b"GGUF" + struct.pack("<I", 7) + b"\0" * 16, "unsupported GGUF version 7"),
    "not gguf": (b"GGML" + b"\0" * 20, "not a GGUF file"),
    "empty": (b"", "not a GGUF file"),
    "truncated header": (b"GGUF\x03\x00\x00\x00\x00\x00", "truncated"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_headers_fail_fast_with_a_reason(tmp_path: Path, name: str) -> None:
    data, reason = HOSTILE[name]
    result, f = parse_counting(write(tmp_path / "hostile.gguf", data))
    assert isinstance(result, FormatError), result
    assert re.search(reason, str(result)), str(result)
    assert f.bytes_read <= len(data)


def test_every_truncation_of_a_real_file_is_a_format_error(tmp_path: Path) -> None:
    data = write_model(tmp_path / "whole.gguf", tokens=50, tensor=False).read_bytes()
    kv_end = len(data.rstrip(b"\0"))  # the writer pads the block with zeros; its last value is non-zero
    cut = tmp_path / "cut.gguf"
    for end in range(0, kv_end, 7):
        result, _ = parse_counting(write(cut, data[:end]))
        assert isinstance(result, FormatError), end
    whole, _ = parse_counting(write(cut, data))
    assert isinstance(whole, GGUFHeader)


def test_caps_are_enforced_with_their_own_reason(tmp_path: Path) -> None:
    path = write_model(tmp_path / "model.gguf", tokens=2000)
    with pytest.raises(FormatError, match="larger than the 16 KiB cap"):
        parse(path, max_kv_bytes=16 * 1024)
    with pytest.raises(FormatError, match="exceeds the 4 bytes cap"):
        parse(path, max_string=4)
    with pytest.raises(FormatError, match="exceeds the cap of 100 items"):
        parse(path, max_array_items=100)


def test_string_arrays_beyond_the_walk_budget_are_refused(tmp_path: Path) -> None:
    many = struct.pack("<IIQ", 9, 8, 400_000) + b"\0" * 8 * 400_000
    data = _header(3) + _s("a") + many + _s("b") + many + _s("c") + many
    result, _ = parse_counting(write(tmp_path / "m.gguf", data), max_array_items=500_000)
    assert isinstance(result, FormatError)
    assert "budget" in str(result)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(version=st.sampled_from([1, 2, 3, 0x03000000, 9]), body=st.binary(max_size=400))
def test_random_bytes_after_the_magic_only_ever_raise_format_error(tmp_path: Path, version: int, body: bytes) -> None:
    path = write(tmp_path / "fuzz.gguf", b"GGUF" + struct.pack("<I", version) + body)
    result, f = parse_counting(path)
    assert isinstance(result, (GGUFHeader, FormatError))
    assert f.bytes_read <= path.stat().st_size


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_real_headers_only_ever_raise_format_error(tmp_path: Path, data: st.DataObject) -> None:
    original = bytearray(_FUZZ_SEED)
    for _ in range(data.draw(st.integers(1, 8))):
        original[data.draw(st.integers(0, len(original) - 1))] = data.draw(st.integers(0, 255))
    path = write(tmp_path / "fuzz.gguf", bytes(original))
    result, _ = parse_counting(path)
    assert isinstance(result, (GGUFHeader, FormatError))


def _fuzz_seed() -> bytes:
    kvs = (
        _s("general.name")
        + struct.pack("<I", 8)
        + _s("m")
        + _s("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, 3)
        + _s("a")
        + _s("<s>")
        + _s("b")
        + _s("tokenizer.ggml.token_type")
        + struct.pack("<IIQ", 9, 5, 3)
        + struct.pack("<3i", 1, 3, 1)
        + _s("nested")
        + struct.pack("<IIQ", 9, 9, 2)
        + struct.pack("<IQB", 0, 1, 7)
        + struct.pack("<IQ", 8, 1)
        + _s("z")
        + _s("general.tags")
        + struct.pack("<IIQ", 9, 8, 1)
        + _s("t")
    )
    return _header(5) + kvs


_FUZZ_SEED = _fuzz_seed()


_TOKEN = st.one_of(
    st.text(min_size=1, max_size=12),
    st.builds(lambda n, c: c * n, st.integers(1000, 70_000), st.sampled_from(["x", "é", "<|"])),  # across read-aheads
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    vocab=st.lists(st.tuples(_TOKEN, st.sampled_from([1, 1, 1, 3, 4])), min_size=1, max_size=300),
    big_endian=st.booleans(),
    max_string=st.sampled_from([1 << 20, 40_000]),
)
def test_every_special_token_is_found_wherever_the_vocabulary_crosses_a_read_ahead(
    tmp_path: Path, vocab: list[tuple[str, int]], big_endian: bool, max_string: int
) -> None:
    order = gguf.GGUFEndian.BIG if big_endian else gguf.GGUFEndian.LITTLE
    writer = gguf.GGUFWriter(str(tmp_path / "v.gguf"), "llama", endianess=order)
    writer.add_token_list([token for token, _ in vocab])
    writer.add_token_types([kind for _, kind in vocab])
    writer.add_token_merges([token for token, _ in reversed(vocab)])  # stepped over, not kept
    writer.add_name("after the merges")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    path = tmp_path / "v.gguf"
    if max(len(token.encode()) for token, _ in vocab) > max_string:
        with pytest.raises(FormatError, match=f"exceeds the {max_string} bytes string cap"):
            parse(path, max_string=max_string)
        return
    header = parse(path, max_string=max_string)
    assert header.special_tokens == tuple(token for token, kind in vocab if kind in (3, 4))
    assert header.metadata["general.name"] == "after the merges"
    assert header.array_lengths["tokenizer.ggml.merges"] == len(vocab)


@pytest.mark.parametrize("where", [0, 5, 999])
def test_a_token_longer_than_the_string_cap_is_refused_wherever_it_lies(tmp_path: Path, where: int) -> None:
    vocab = [f"t{i}" for i in range(1000)]
    vocab[where] = "x" * 100  # well inside one read-ahead: the cap, not the buffer's end, must catch it
    writer = gguf.GGUFWriter(str(tmp_path / "v.gguf"), "llama")
    writer.add_token_list(vocab)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    with pytest.raises(FormatError, match=f"string {where} of the array has length 100, which exceeds the 8 bytes"):
        parse(tmp_path / "v.gguf", max_string=8)


def test_a_vocabulary_of_numbers_has_no_special_tokens(tmp_path: Path) -> None:
    writer = gguf.GGUFWriter(str(tmp_path / "v.gguf"), "llama")
    writer.add_array("tokenizer.ggml.tokens", [1, 2, 3])
    writer.add_token_types([3, 3, 4])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    assert parse(tmp_path / "v.gguf").special_tokens == ()


class _RewrittenOnReadBack(CountingFile):
    """A real file rewritten in place (same size) between the vocabulary walk and the read-back of its
    special tokens: the reader's first step back, where a writer could have been meanwhile."""

    def __init__(self, path: Path, at: int, data: bytes) -> None:
        super().__init__(path)
        self.path, self.at, self.data, self.furthest = path, at, data, 0

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 0 and pos < self.furthest and self.data:
            with open(self.path, "r+b") as writer:
                writer.seek(self.at)
                writer.write(self.data)
            self.data = b""
        return super().seek(pos, whence)

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.furthest = max(self.furthest, self.tell())
        return data


def test_a_vocabulary_rewritten_while_it_is_read_is_a_format_error(tmp_path: Path) -> None:
    vocab = [f"t{i:05d}" for i in range(30_000)]  # past the read-ahead: the special one is read back from the file
    writer = gguf.GGUFWriter(str(tmp_path / "v.gguf"), "llama")
    writer.add_token_list(vocab)
    writer.add_token_types([3 if i == 2 else 1 for i in range(len(vocab))])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    path = tmp_path / "v.gguf"
    assert parse(path).special_tokens == ("t00002",)
    second = path.read_bytes().index(struct.pack("<Q", 6) + b"t00001")  # token 1's length
    with (
        _RewrittenOnReadBack(path, second, struct.pack("<Q", 10**6)) as f,
        pytest.raises(FormatError, match="changed while it was read"),
    ):
        read_gguf(f, path.stat().st_size)  # type: ignore[arg-type]
