"""Structure-aware mutations of a file set: byte-level (truncation, bit flips, interesting
integers, repeated or deleted chunks), text-level (huge numbers in headers, deep nesting, repeated
elements), JSON-tree (wrong types, huge counts, deep nesting, repeated list items) and zip-entry
(mutate one member, keep the archive valid). All randomness comes from the Generator passed in."""

from __future__ import annotations

import io
import json
import re
import warnings
import zipfile

import numpy as np

FileSet = dict[str, bytes]
MAX_MUTANT_BYTES = 4 << 20  # bigger mutants are cut: size limits are tested directly, not by fuzzing

_INTERESTING_INTS = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 2**63 - 1, 2**64 - 1)
_HUGE_TEXT = (b"0", b"-1", b"99999999999", b"4294967296", b"1e308", b"nan", b"inf", b"-1e400", b"1" * 40)
_NUM = re.compile(rb"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_XML_ELEM = re.compile(rb"<([A-Za-z_][\w:.-]*)[^<>]*?(/>|>[^<]*</\1>)")


def truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(0, max(len(data), 1)))]


def bit_flips(data: bytes, rng: np.random.Generator) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        i = int(rng.integers(0, len(b)))
        b[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(b)


def interesting_int(data: bytes, rng: np.random.Generator) -> bytes:
    """Overwrite 2, 4 or 8 bytes with a boundary integer, favouring the header (first 64 bytes)."""
    if len(data) < 8:
        return data + b"\xff" * 8
    width = int(rng.choice([2, 4, 8]))
    hi = min(len(data) - width, 64) if rng.random() < 0.6 else len(data) - width
    i = int(rng.integers(0, max(hi, 1)))
    v = int(rng.choice(_INTERESTING_INTS)) & ((1 << (8 * width)) - 1)
    return data[:i] + v.to_bytes(width, "little") + data[i + width:]


def chunk_edit(data: bytes, rng: np.random.Generator) -> bytes:
    """Delete, duplicate (many times) or insert random bytes at a random place."""
    n = len(data)
    i = int(rng.integers(0, n + 1))
    j = min(n, i + int(rng.integers(1, 256)))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return data[:i] + data[j:]
    if kind == 1:
        return data[:j] + data[i:j] * int(rng.integers(2, 200)) + data[j:]
    return data[:i] + rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes() + data[i:]


def huge_number(data: bytes, rng: np.random.Generator) -> bytes:
    """Replace one number in the text (a count in a header, a coordinate) by an extreme one."""
    nums = list(_NUM.finditer(data[:200_000]))
    if not nums:
        return data
    m = nums[int(rng.integers(0, len(nums)))]
    return data[: m.start()] + _HUGE_TEXT[int(rng.integers(0, len(_HUGE_TEXT)))] + data[m.end():]


def deep_nesting(data: bytes, rng: np.random.Generator) -> bytes:
    depth = int(rng.choice([100, 1000, 100_000]))
    i = int(rng.integers(0, len(data) + 1))
    if data.lstrip()[:1] == b"<":
        blob = b"<a>" * depth + b"</a>" * depth
    elif data.lstrip()[:1] in (b"{", b"["):
        blob = b"[" * depth + b"]" * depth
    else:
        blob = b"- " * depth + b"x"
    return data[:i] + blob + data[i:]


def repeat_element(data: bytes, rng: np.random.Generator) -> bytes:
    """Repeat one XML element (or one line) many times: duplicate ids, huge lists."""
    elems = list(_XML_ELEM.finditer(data[:200_000]))
    if elems:
        m = elems[int(rng.integers(0, len(elems)))]
        return data[: m.end()] + m.group(0) * int(rng.choice([2, 50, 5000])) + data[m.end():]
    lines = data.split(b"\n")
    k = int(rng.integers(0, len(lines)))
    return b"\n".join(lines[:k] + [lines[k]] * int(rng.choice([2, 50, 5000])) + lines[k:])


_WRONG = ("x", "", None, True, -1, 0, 1e308, 10**30, -(10**30), [], {}, [[1, 2], "a"], {"a": {"b": []}}, float("nan"))


def _json_nodes(doc, path=()):
    yield path, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _json_nodes(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:50]):
            yield from _json_nodes(v, path + (i,))


def _set(doc, path, value):
    if not path:
        return value
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = value
    return doc


def json_tree(data: bytes, rng: np.random.Generator) -> bytes:
    """Parse JSON and change one node: a wrong type, an extreme value, a dropped key, a list
    repeated many times or a deeply nested value; unparsable input falls back to bytes."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return bit_flips(data, rng)
    try:
        nodes = list(_json_nodes(doc))
    except RecursionError:
        return truncate(data, rng)
    path, node = nodes[int(rng.integers(0, len(nodes)))]
    kind = int(rng.integers(0, 4))
    if kind == 0:
        doc = _set(doc, path, _WRONG[int(rng.integers(0, len(_WRONG)))])
    elif kind == 1 and isinstance(node, list) and node:
        doc = _set(doc, path, node * int(rng.choice([2, 100, 3000])))
    elif kind == 2 and path:
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        del parent[path[-1]]
    else:
        nested = node
        for _ in range(int(rng.choice([5, 50, 900]))):
            nested = [nested]
        doc = _set(doc, path, nested)
    try:
        return json.dumps(doc, allow_nan=True).encode()
    except (ValueError, RecursionError):
        return data


def _zip_entries(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return [(i, zf.read(i)) for i in zf.infolist()]
    except Exception:  # any unreadable archive: mutate the bytes instead
        return None


def zip_member(data: bytes, rng: np.random.Generator) -> bytes:
    """Rebuild the archive with one member mutated, added twice, or dropped."""
    entries = _zip_entries(data)
    if not entries:
        return bit_flips(data, rng)
    k = int(rng.integers(0, len(entries)))
    kind = int(rng.integers(0, 4))
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as zf:
        warnings.simplefilter("ignore")  # duplicate names are one of the mutations
        for j, (info, body) in enumerate(entries):
            if j == k and kind == 3:
                continue
            if j == k:
                body = mutate_bytes(body, rng, text=body[:1] in (b"{", b"<", b"["))
            zf.writestr(info.filename, body, compress_type=info.compress_type)
            if j == k and kind == 2:
                zf.writestr(info.filename + "x" if rng.random() < 0.5 else info.filename, body)
    return out.getvalue()


_BYTE_OPS = (truncate, bit_flips, interesting_int, chunk_edit)
_TEXT_OPS = (huge_number, deep_nesting, repeat_element)


def mutate_bytes(data: bytes, rng: np.random.Generator, text: bool = False, json_doc: bool = False,
                 zip_doc: bool = False) -> bytes:
    """One to three stacked mutations suited to the content's structure."""
    ops = list(_BYTE_OPS)
    if text:
        ops += list(_TEXT_OPS) * 2
    if json_doc:
        ops += [json_tree] * 6
    if zip_doc:
        ops += [zip_member] * 6
    for _ in range(int(rng.integers(1, 4))):
        data = ops[int(rng.integers(0, len(ops)))](data, rng)[:MAX_MUTANT_BYTES]
    return data


def mutate_fileset(files: FileSet, main: str, rng: np.random.Generator, kinds: dict[str, str]) -> FileSet:
    """Mutate one file of the set (the main file half of the time), or copy/drop a side file.

    kinds maps a file suffix to 'text', 'json', 'zip' or 'binary' (default)."""
    out = dict(files)
    names = sorted(out)
    if len(names) > 1 and rng.random() < 0.1:
        name = names[int(rng.integers(0, len(names)))]
        if name != main and rng.random() < 0.5:
            del out[name]
        else:
            stem, dot, suf = name.rpartition(".")
            out[f"{stem or name}_dup{int(rng.integers(0, 10**6))}{dot}{suf}"] = out[name]
        return out
    pick_main = main in out and (rng.random() < 0.5 or len(names) == 1)
    name = main if pick_main else names[int(rng.integers(0, len(names)))]
    kind = next((k for suf, k in kinds.items() if name.lower().endswith(suf)), "binary")
    out[name] = mutate_bytes(out[name], rng, text=kind in ("text", "json"), json_doc=kind == "json",
                             zip_doc=kind == "zip")
    return out
