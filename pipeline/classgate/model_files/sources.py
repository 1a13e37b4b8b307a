"""A model config's value read from the trainer's own files, never a copy of it.

A config field may be written `{from: PATH, key: KEY}`: the value is read from
PATH (relative to the config file it appears in) at KEY, in the form PATH's kind
takes, so the number checked is the number the trainer reads:

    YAML, JSON, TOML     a dotted key path, list indices as numbers:
                         `task.model.num_classes`, `heads.0.units`;
                         `len(id2label)` counts a mapping's or a list's entries
    Hugging Face         config.json as JSON; `num_labels` is len(id2label) when
                         the file (as save_pretrained writes it) holds only that
    Hydra                a config folder composed by Hydra's own compose API:
                         `{from: conf/, config_name: train, overrides: [...],
                         key: model.num_classes}`, interpolations resolved
    gin                  `[scope/]configurable.parameter`, as bound in the file;
                         macros (`%NUM`) followed, includes read, nothing imported
    Keras                a `.keras` archive or a model JSON: `layer.attribute`,
                         the layer by name (`logits.units`, `items.input_dim`)
    TF checkpoint,       a variable's shape from the index, no value loaded:
    SavedModel           `{key: VARIABLE, axis: 0}` (exact name, or a substring
                         matching one variable)
    safetensors          a tensor's shape from the header alone:
                         `{key: TENSOR, axis: 0}`

Reading never imports or runs code of the user's: YAML is read safely, gin is
parsed, not executed, Hydra composes configs (a folder that would import a
package's configs, `pkg://`, is refused) and nothing is instantiated. Every file
read is returned with the digest of its bytes, which the config fingerprint binds.
Anything unexpected is an InputError naming the file and the key.
"""

import dataclasses
import hashlib
import io
import json
import os
import posixpath
import re
import struct
import tomllib
import zipfile

import yaml

from classgate import errors
from classgate.io import storage

# A trainer config, model JSON or safetensors header past this is not one.
MAX_BYTES = 64 << 20
# gin includes followed at most, and macros through macros.
MAX_DEPTH = 16
_LEN = re.compile(r"^len\((?P<key>.+)\)$")
# The parts of large files that are read, and bound, alone.
_HEADER, _KERAS_CONFIG = "safetensors-header", "keras-config.json"
_REFERENCE_KEYS = {"from", "key", "axis", "config_name", "overrides"}


@dataclasses.dataclass(frozen=True)
class Found:
    """A value read from a file, and every file read for it with its digest."""

    value: object
    digests: dict  # path -> "sha256:..."


def is_reference(value) -> bool:
    """Whether a config value is a `{from: ..., key: ...}` reference."""
    return isinstance(value, dict) and "from" in value


def read(reference: dict, base: str, where: str) -> Found:
    """The value a `{from, key, ...}` reference names; `base` is the config's folder.

    `where` says where the reference stands, for messages ("m.yaml: line 4:
    num_classes").
    """
    unknown = sorted(set(map(str, reference)) - _REFERENCE_KEYS)
    if unknown:
        raise errors.InputError(
            f"{where}: unknown key {unknown[0]!r} in a reference (known: "
            + ", ".join(sorted(_REFERENCE_KEYS))
            + ")"
        )
    source, key = reference.get("from"), reference.get("key")
    if not isinstance(source, str) or not source:
        raise errors.InputError(f"{where}: 'from' must name a file or folder")
    if not isinstance(key, str) or not key:
        raise errors.InputError(f"{where}: 'key' must name what to read in {source}")
    path = resolve_path(source, base)
    try:
        return _read(path, key, reference, where)
    except errors.InputError:
        raise
    except Exception as e:  # a library's own error on a file it cannot read
        raise errors.InputError(
            f"{where}: {path}: cannot read {key!r}: {errors.first_line(e)[:200]}"
        ) from e


def resolve_path(path: str, base: str) -> str:
    """`path` as written in a config in folder `base`: absolute, URI, or relative."""
    if storage.is_remote(path) or os.path.isabs(path):
        return path
    if storage.is_remote(base):
        return posixpath.normpath(posixpath.join(base, path)).replace(":/", "://", 1)
    return os.path.normpath(os.path.join(base, path))


def digest(data: bytes, part: str = "") -> str:
    """A digest of bytes read: `sha256:...`, or `sha256[PART]:...` for a part.

    A part of a large file (a safetensors header, a Keras archive's config) is
    what `redigest` reads again, the same way.
    """
    kind = f"sha256[{part}]" if part else "sha256"
    return f"{kind}:{hashlib.sha256(data).hexdigest()}"


def redigest(path: str, recorded: str) -> str:
    """The digest of `path` now, read as `recorded` was (whole, or the same part)."""
    where = path
    if recorded.startswith(f"sha256[{_HEADER}]:"):
        return digest(_safetensors_header(path, where)[0], _HEADER)
    if recorded.startswith(f"sha256[{_KERAS_CONFIG}]:"):
        return digest(_keras_config(path, where), _KERAS_CONFIG)
    return digest(read_bytes(path, where, 2 << 30))


def read_bytes(path: str, where: str, limit: int = MAX_BYTES) -> bytes:
    """A referenced file's bytes, bounded; InputError naming it when it cannot be."""
    try:
        return storage.read(path, limit)
    except errors.InputError as e:
        raise errors.InputError(f"{where}: {e.message}") from e
    except Exception as e:  # missing file, permissions, remote errors
        reason = getattr(e, "strerror", None) or errors.first_line(e)[:200]
        raise errors.InputError(f"{where}: {path}: cannot read: {reason}") from e


def _read(path: str, key: str, reference: dict, where: str) -> Found:
    lower = path.lower()
    if "config_name" in reference or "overrides" in reference:
        return _hydra(path, key, reference, where)
    if lower.endswith(".gin"):
        return _gin(path, key, where)
    if lower.endswith(".safetensors"):
        return _safetensors(path, key, _axis(reference, where), where)
    if lower.endswith(".keras"):
        return _keras_archive(path, key, where)
    if lower.endswith((".yaml", ".yml", ".json", ".toml")):
        data = read_bytes(path, where)
        document = _document(path, data, where)
        if _is_keras_json(document):
            return Found(_keras_layer(document, key, path, where), {path: digest(data)})
        return Found(_at(document, key, path, where), {path: digest(data)})
    return _checkpoint(path, key, _axis(reference, where), where)


def _document(path: str, data: bytes, where: str):
    """A YAML, JSON or TOML file's content, read safely."""
    try:
        text = data.decode("utf-8")
        if path.lower().endswith(".toml"):
            return tomllib.loads(text)
        if path.lower().endswith(".json"):
            return json.loads(text)
        loader = _TrainerLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except RecursionError as e:
        raise errors.InputError(f"{where}: {path}: nested too deeply") from e
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        at = f" (line {line + 1})" if line is not None else ""
        raise errors.InputError(
            f"{where}: {path}: not valid {_kind(path)}{at}: "
            f"{errors.first_line(e)[:120]}"
        ) from e


class _TrainerLoader(yaml.SafeLoader):
    """yaml.safe_load as a trainer reads its config, tags it does not know kept.

    A trainer's own YAML may tag values for its own loader (`!include`,
    `!ref`); they are read as the plain data under the tag, never constructed
    into objects: nothing of the file runs.
    """


def _untagged(loader, suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_TrainerLoader.add_multi_constructor("!", _untagged)
_TrainerLoader.add_multi_constructor("tag:", _untagged)


def _kind(path: str) -> str:
    return {".toml": "TOML", ".json": "JSON"}.get(os.path.splitext(path)[1], "YAML")


def _at(document, key: str, path: str, where: str):
    """The value at a dotted key path; `len(path)` counts entries.

    A Hugging Face config as save_pretrained writes it has no `num_labels`, only
    `id2label`: `num_labels` is then its length, as PretrainedConfig reads it.
    """
    counted = _LEN.match(key)
    dotted = counted.group("key") if counted else key
    if (
        dotted == "num_labels"
        and isinstance(document, dict)
        and "num_labels" not in document
        and isinstance(document.get("id2label"), dict)
    ):
        dotted, counted = "id2label", True
    node = document
    walked = []
    for part in dotted.split("."):
        walked.append(part)
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            there = ".".join(walked[:-1]) or "the top level"
            present = list(node)[:8] if isinstance(node, dict) else None
            hint = f" (keys there: {', '.join(map(str, present))})" if present else ""
            raise errors.InputError(
                f"{where}: {path} has no {'.'.join(walked)!r} at {there}{hint}"
            )
    if counted:
        if not isinstance(node, dict | list):
            raise errors.InputError(
                f"{where}: {path}: len({dotted}) of a {type(node).__name__}, not a "
                "mapping or list"
            )
        return len(node)
    return node


# Hydra ------------------------------------------------------------------------------


def _hydra(folder: str, key: str, reference: dict, where: str) -> Found:
    """`key` of the config Hydra composes from `folder` (name, overrides resolved)."""
    if storage.is_remote(folder) or not os.path.isdir(folder):
        raise errors.InputError(
            f"{where}: {folder}: Hydra composes a local config folder; this is none"
        )
    name = reference.get("config_name")
    overrides = reference.get("overrides", [])
    if not isinstance(name, str) or not name:
        raise errors.InputError(f"{where}: a Hydra reference needs config_name")
    if not isinstance(overrides, list) or not all(
        isinstance(o, str) for o in overrides
    ):
        raise errors.InputError(f"{where}: Hydra overrides must be a list of strings")
    digests = _folder_digests(folder, where)
    try:
        from hydra import compose, initialize_config_dir
        from omegaconf import OmegaConf
    except ImportError as e:
        raise errors.InputError(
            f"{where}: reading a Hydra config folder needs hydra-core: pip install "
            "'hydra-core>=1.3'"
        ) from e
    try:
        with initialize_config_dir(
            config_dir=os.path.abspath(folder), version_base=None, job_name="classgate"
        ):
            composed = compose(config_name=name, overrides=list(overrides))
        document = OmegaConf.to_container(composed, resolve=True)
    except Exception as e:  # Hydra's MissingConfigException, override errors, ...
        raise errors.InputError(
            f"{where}: {folder}: Hydra cannot compose {name!r} with overrides "
            f"{overrides}: {errors.first_line(e)[:200]}"
        ) from e
    return Found(_at(document, key, folder, where), digests)


def _folder_digests(folder: str, where: str) -> dict:
    """Every config file of a Hydra folder, read: its digest; `pkg://` refused."""
    found = {}
    for root, _, names in sorted(os.walk(folder)):
        for name in sorted(names):
            if not name.lower().endswith((".yaml", ".yml")):
                continue
            path = os.path.join(root, name)
            data = read_bytes(path, where)
            if b"pkg://" in data or b"structured://" in data:
                raise errors.InputError(
                    f"{where}: {path} adds a search path that imports a package "
                    "(pkg://): classgate reads configs without importing code"
                )
            found[path] = digest(data)
    if not found:
        raise errors.InputError(f"{where}: {folder} holds no YAML config")
    return found


# gin ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Macro:
    name: str


@dataclasses.dataclass(frozen=True)
class _Configurable:
    name: str


def _gin(path: str, key: str, where: str) -> Found:
    """The value bound to `[scope/]configurable.parameter` in a gin file.

    Parsed by gin's own parser; imports are not followed (nothing is imported),
    includes are read (relative to the including file), macros resolved. The last
    binding of a key wins, as in gin.
    """
    bindings, digests = {}, {}
    _gin_bindings(path, where, bindings, digests, depth=0)
    if key not in bindings:
        near = [k for k in bindings if k.endswith(key) or key.endswith(k)][:5]
        hint = f" (bound: {', '.join(near or list(bindings)[:5])})" if bindings else ""
        raise errors.InputError(f"{where}: {path} binds no {key!r}{hint}")
    value = bindings[key]
    for _ in range(MAX_DEPTH):
        if not isinstance(value, _Macro):
            break
        if value.name not in bindings:
            raise errors.InputError(
                f"{where}: {path}: {key} is %{value.name}, a macro bound nowhere"
            )
        value = bindings[value.name]
    else:
        raise errors.InputError(f"{where}: {path}: {key}: macros nested too deeply")
    if isinstance(value, _Configurable | _Macro):
        raise errors.InputError(
            f"{where}: {path}: {key} is a reference to @{value.name}, not a value"
        )
    return Found(value, digests)


def _gin_bindings(path: str, where: str, bindings: dict, digests: dict, depth: int):
    if depth > MAX_DEPTH:
        raise errors.InputError(f"{where}: {path}: gin includes nested too deeply")
    from gin import config_parser

    class Delegate(config_parser.ParserDelegate):
        def configurable_reference(self, name, evaluate):
            return _Configurable(name)

        def macro(self, name):
            return _Macro(name)

    data = read_bytes(path, where)
    digests[path] = digest(data)
    try:
        statements = list(
            config_parser.ConfigParser(io.StringIO(data.decode("utf-8")), Delegate())
        )
    except Exception as e:  # SyntaxError with gin's location, UnicodeDecodeError
        line = getattr(e, "lineno", None)
        at = f" (line {line})" if line else ""
        raise errors.InputError(
            f"{where}: {path}: not a gin file{at}: {errors.first_line(e)[:120]}"
        ) from e
    for statement in statements:
        if isinstance(statement, config_parser.IncludeStatement):
            included = resolve_path(statement.filename, os.path.dirname(path))
            _gin_bindings(included, where, bindings, digests, depth + 1)
        elif isinstance(statement, config_parser.BindingStatement):
            name = statement.selector
            if statement.arg_name:
                name += "." + statement.arg_name
            if statement.scope:
                name = statement.scope + "/" + name
            bindings[name] = statement.value


# Keras -----------------------------------------------------------------------------


def _keras_archive(path: str, key: str, where: str) -> Found:
    """A `.keras` archive: its config.json, read from the zip; the weights unread."""
    data = _keras_config(path, where)
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise errors.InputError(
            f"{where}: {path}: its config.json is not JSON: {errors.first_line(e)[:80]}"
        ) from e
    return Found(
        _keras_layer(document, key, path, where), {path: digest(data, _KERAS_CONFIG)}
    )


def _keras_config(path: str, where: str) -> bytes:
    """The config.json bytes of a `.keras` archive (a zip)."""
    try:
        with storage.opened(path) as f:
            archive = zipfile.ZipFile(f)
            member = archive.getinfo("config.json")
            if member.file_size > MAX_BYTES:
                raise ValueError("config.json larger than a model config")
            return archive.read(member)
    except errors.InputError as e:
        raise errors.InputError(f"{where}: {e.message}") from e
    except OSError as e:
        raise errors.InputError(f"{where}: {path}: cannot read: {e.strerror}") from e
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise errors.InputError(
            f"{where}: {path}: not a Keras archive (a zip holding config.json): "
            f"{errors.first_line(e)[:120]}"
        ) from e


def _is_keras_json(document) -> bool:
    return (
        isinstance(document, dict)
        and isinstance(document.get("config"), dict)
        and "class_name" in document
        and "layers" in document["config"]
    )


def _keras_layer(document, key: str, path: str, where: str):
    """`layer.attribute` of a Keras model config; nested models searched too."""
    if "." not in key:
        raise errors.InputError(
            f"{where}: {path}: a Keras key is LAYER.ATTRIBUTE (e.g. logits.units), "
            f"not {key!r}"
        )
    layer_name, attribute = key.rsplit(".", 1)
    names, found = [], None
    stack = [document]
    while stack and found is None:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        config = node.get("config")
        if not isinstance(config, dict):
            continue
        if config.get("name") == layer_name and node is not document:
            found = config
            break
        names.append(config.get("name"))
        stack.extend(reversed(config.get("layers") or []))
    if found is None:
        listed = ", ".join(str(n) for n in names[1:9])
        raise errors.InputError(
            f"{where}: {path}: no layer named {layer_name!r} (layers: {listed})"
        )
    if attribute not in found:
        raise errors.InputError(
            f"{where}: {path}: layer {layer_name!r} has no {attribute!r} (it has "
            f"{', '.join(sorted(map(str, found))[:8])})"
        )
    return found[attribute]


# Tensors: TF checkpoints, SavedModels, safetensors ---------------------------


def _axis(reference: dict, where: str) -> int:
    axis = reference.get("axis", 0)
    if not isinstance(axis, int) or isinstance(axis, bool) or axis < 0:
        raise errors.InputError(f"{where}: 'axis' must be a whole number >= 0")
    return axis


def _dimension(shape, axis: int, name: str, path: str, where: str) -> int:
    if axis >= len(shape):
        raise errors.InputError(
            f"{where}: {path}: {name} has shape {list(shape)}: no axis {axis}"
        )
    return int(shape[axis])


def _checkpoint(path: str, key: str, axis: int, where: str) -> Found:
    """A dimension of a TF checkpoint's or SavedModel's variable, from its index."""
    from classgate.model_files import checkpoint

    prefix = checkpoint.prefix(path)
    index = read_bytes(prefix + ".index", where, limit=1 << 30)
    try:
        variables = checkpoint.variables(path)
        name, shape = checkpoint.find(variables, key, "key", path)
    except errors.InputError as e:
        raise errors.InputError(f"{where}: {e.message}") from e
    value = _dimension(shape, axis, name, path, where)
    return Found(value, {prefix + ".index": digest(index)})


def _safetensors(path: str, key: str, axis: int, where: str) -> Found:
    """A dimension of a tensor, read from the safetensors header alone."""
    data, header = _safetensors_header(path, where)
    entry = header.get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("shape"), list):
        tensors = [k for k in header if k != "__metadata__"][:8]
        raise errors.InputError(
            f"{where}: {path} holds no tensor {key!r} (tensors: {', '.join(tensors)})"
        )
    value = _dimension(entry["shape"], axis, key, path, where)
    return Found(value, {path: digest(data, _HEADER)})  # the header: what was read


def _safetensors_header(path: str, where: str) -> tuple[bytes, dict]:
    """A safetensors file's first bytes (length and header) and its header.

    The file starts with the header's length (u64, little-endian) and the header,
    JSON; a length past the file or past MAX_BYTES is no header at all.
    """
    try:
        with storage.opened(path) as f:
            head = f.read(8)
            if len(head) < 8:
                raise errors.InputError(
                    f"{where}: {path}: too short for a safetensors file"
                )
            (length,) = struct.unpack("<Q", head)
            f.seek(0, os.SEEK_END)
            size = f.tell()
            if length > size - 8 or length > MAX_BYTES:
                raise errors.InputError(
                    f"{where}: {path}: its header says {length} bytes, the file holds "
                    f"{size - 8} after it: not a safetensors file"
                )
            f.seek(8)
            data = head + f.read(length)
    except errors.InputError:
        raise
    except OSError as e:
        raise errors.InputError(f"{where}: {path}: cannot read: {e.strerror}") from e
    try:
        header = json.loads(data[8:])
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (ValueError, RecursionError) as e:
        raise errors.InputError(
            f"{where}: {path}: not a safetensors header: {errors.first_line(e)[:120]}"
        ) from e
    return data, header
