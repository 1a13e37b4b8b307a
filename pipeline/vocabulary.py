r"""Vocabulary files, read exactly as TensorFlow's TextFileInitializer reads them.

Line i is the bytes of class id i. Lines end at b"\n" only, one trailing b"\r" is
dropped, and an empty line (or an empty file) is refused, as TensorFlow refuses it:
U+2028, form feeds and lone carriage returns stay inside their line, where
str.splitlines() would have split them. Lines are bytes, compared with label bytes,
so a vocabulary or a label that is not UTF-8 maps as it does in TensorFlow.

Strings absent from the vocabulary hash into num_oov_buckets extra ids by
Fingerprint64, as tf.lookup.StaticVocabularyTable does (farmhash's Hash64; pyfarmhash
takes only str, so bytes that are not UTF-8 go through the port below).
"""

import collections
import functools

import farmhash
import pyarrow as pa

from classgate import errors

# A vocabulary past this size is not a vocabulary file (2 GiB: 100M ids of 20 bytes).
MAX_BYTES = 2 << 30


def parse(data: bytes, path: str) -> tuple[bytes, ...]:
    """The lines of a vocabulary file's bytes; InputError where TensorFlow fails."""
    if not data:
        raise errors.InputError(
            f"vocabulary_file {path}: empty; TensorFlow's TextFileInitializer "
            "refuses an empty file"
        )
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    for number, line in enumerate(lines, 1):
        if not line:
            raise errors.InputError(
                f"vocabulary_file {path}: line {number} is empty; TensorFlow's "
                "TextFileInitializer refuses empty lines"
            )
    return tuple(lines)


@functools.cache
def load(path: str) -> tuple[bytes, ...]:
    """The lines of a vocabulary file; cached, since every worker batch asks."""
    from classgate import storage

    try:
        data = storage.read(path, MAX_BYTES)
    except errors.InputError as e:
        raise errors.InputError(f"vocabulary_file {e.message}") from e
    except Exception as e:  # missing file, permissions, remote errors
        first = errors.first_line(e)
        raise errors.InputError(f"vocabulary_file {path}: cannot read: {first}") from e
    return parse(data, path)


@functools.cache
def as_array(path: str) -> pa.Array:
    return pa.array(load(path), type=pa.binary())


def duplicates(lines: tuple[bytes, ...]) -> dict[str, int]:
    """Lines that occur more than once, with their counts (shown as text)."""
    counts = collections.Counter(lines)
    return {shown(line): n for line, n in counts.items() if n > 1}


def shown(word: bytes) -> str:
    """A vocabulary or label string as text, bytes that are not UTF-8 escaped."""
    return word.decode("utf-8", errors="backslashreplace")


def fingerprint64(word: bytes) -> int:
    """TensorFlow's Fingerprint64 of `word` (farmhash::Fingerprint64)."""
    try:
        return farmhash.fingerprint64(word.decode("utf-8"))
    except UnicodeDecodeError:
        return _hash64(word)


# farmhashna::Hash64, ported from farmhash.cc (MIT licence) for bytes that are not
# UTF-8. Checked against pyfarmhash and tf.strings.to_hash_bucket_fast in tests.
_M = (1 << 64) - 1
_K0, _K1, _K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F


def _fetch64(s: bytes, i: int) -> int:
    return int.from_bytes(s[i : i + 8], "little")


def _fetch32(s: bytes, i: int) -> int:
    return int.from_bytes(s[i : i + 4], "little")


def _rotate(value: int, shift: int) -> int:
    return value if shift == 0 else ((value >> shift) | (value << (64 - shift))) & _M


def _shift_mix(value: int) -> int:
    return value ^ (value >> 47)


def _hash_len16(u: int, v: int, mul: int) -> int:
    a = ((u ^ v) * mul) & _M
    a ^= a >> 47
    b = ((v ^ a) * mul) & _M
    b ^= b >> 47
    return (b * mul) & _M


def _hash_len0to16(s: bytes) -> int:
    n = len(s)
    if n >= 8:
        mul = (_K2 + n * 2) & _M
        a = (_fetch64(s, 0) + _K2) & _M
        b = _fetch64(s, n - 8)
        c = (_rotate(b, 37) * mul + a) & _M
        d = ((_rotate(a, 25) + b) * mul) & _M
        return _hash_len16(c, d, mul)
    if n >= 4:
        mul = (_K2 + n * 2) & _M
        a = _fetch32(s, 0)
        return _hash_len16((n + (a << 3)) & _M, _fetch32(s, n - 4), mul)
    if n > 0:
        y = s[0] + (s[n >> 1] << 8)
        z = n + (s[n - 1] << 2)
        return (_shift_mix(((y * _K2) ^ (z * _K0)) & _M) * _K2) & _M
    return _K2


def _hash_len17to32(s: bytes) -> int:
    n = len(s)
    mul = (_K2 + n * 2) & _M
    a = (_fetch64(s, 0) * _K1) & _M
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & _M
    d = (_fetch64(s, n - 16) * _K2) & _M
    return _hash_len16(
        (_rotate((a + b) & _M, 43) + _rotate(c, 30) + d) & _M,
        (a + _rotate((b + _K2) & _M, 18) + c) & _M,
        mul,
    )


def _hash_len33to64(s: bytes) -> int:
    n = len(s)
    mul = (_K2 + n * 2) & _M
    a = (_fetch64(s, 0) * _K2) & _M
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & _M
    d = (_fetch64(s, n - 16) * _K2) & _M
    y = (_rotate((a + b) & _M, 43) + _rotate(c, 30) + d) & _M
    z = _hash_len16(y, (a + _rotate((b + _K2) & _M, 18) + c) & _M, mul)
    e = (_fetch64(s, 16) * mul) & _M
    f = _fetch64(s, 24)
    g = ((y + _fetch64(s, n - 32)) * mul) & _M
    h = ((z + _fetch64(s, n - 24)) * mul) & _M
    return _hash_len16(
        (_rotate((e + f) & _M, 43) + _rotate(g, 30) + h) & _M,
        (e + _rotate((f + a) & _M, 18) + g) & _M,
        mul,
    )


def _weak_hash_len32(s: bytes, i: int, a: int, b: int) -> tuple[int, int]:
    w, x, y, z = (_fetch64(s, i + k) for k in (0, 8, 16, 24))
    a = (a + w) & _M
    b = _rotate((b + a + z) & _M, 21)
    c = a
    a = (a + x + y) & _M
    b = (b + _rotate(a, 44)) & _M
    return (a + z) & _M, (b + c) & _M


def _hash64(s: bytes) -> int:
    n = len(s)
    if n <= 16:
        return _hash_len0to16(s)
    if n <= 32:
        return _hash_len17to32(s)
    if n <= 64:
        return _hash_len33to64(s)
    seed = 81
    x = seed
    y = (seed * _K1 + 113) & _M
    z = (_shift_mix((y * _K2 + 113) & _M) * _K2) & _M
    v = (0, 0)
    w = (0, 0)
    x = (x * _K2 + _fetch64(s, 0)) & _M
    end = ((n - 1) // 64) * 64
    last64 = end + ((n - 1) & 63) - 63
    at = 0
    while True:
        x = (_rotate((x + y + v[0] + _fetch64(s, at + 8)) & _M, 37) * _K1) & _M
        y = (_rotate((y + v[1] + _fetch64(s, at + 48)) & _M, 42) * _K1) & _M
        x ^= w[1]
        y = (y + v[0] + _fetch64(s, at + 40)) & _M
        z = (_rotate((z + w[0]) & _M, 33) * _K1) & _M
        v = _weak_hash_len32(s, at, (v[1] * _K1) & _M, (x + w[0]) & _M)
        w = _weak_hash_len32(
            s, at + 32, (z + w[1]) & _M, (y + _fetch64(s, at + 16)) & _M
        )
        z, x = x, z
        at += 64
        if at == end:
            break
    mul = (_K1 + ((z & 0xFF) << 1)) & _M
    at = last64
    w = ((w[0] + ((n - 1) & 63)) & _M, w[1])
    v = ((v[0] + w[0]) & _M, v[1])
    w = ((w[0] + v[0]) & _M, w[1])
    x = (_rotate((x + y + v[0] + _fetch64(s, at + 8)) & _M, 37) * mul) & _M
    y = (_rotate((y + v[1] + _fetch64(s, at + 48)) & _M, 42) * mul) & _M
    x ^= (w[1] * 9) & _M
    y = (y + v[0] * 9 + _fetch64(s, at + 40)) & _M
    z = (_rotate((z + w[0]) & _M, 33) * mul) & _M
    v = _weak_hash_len32(s, at, (v[1] * mul) & _M, (x + w[0]) & _M)
    w = _weak_hash_len32(s, at + 32, (z + w[1]) & _M, (y + _fetch64(s, at + 16)) & _M)
    z, x = x, z
    return _hash_len16(
        (_hash_len16(v[0], w[0], mul) + _shift_mix(y) * _K0 + z) & _M,
        (_hash_len16(v[1], w[1], mul) + x) & _M,
        mul,
    )
