"""Writer and reader option strings: the reference's grammar, parsed and formatted here only.

Grammar (FORMAT.md §7): ``option ("," option)*`` with ``option ::= name
(":" value)?``; empty items are ignored, names are case-sensitive, nothing is
stripped, no option may appear twice and ``default`` may only come first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .codecs import Codec, available_codecs, get_codec
from .errors import InvalidOptionsError
from .parallel import CPUS

INT32_MAX = 2**31 - 1
_INT = re.compile(r"[+-]?\d+\Z")
_BYTES = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([BkKMGTPE]?)\Z")
_SUFFIX = {"": 1, "B": 1, "k": 1 << 10, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30,
           "T": 1 << 40, "P": 1 << 50, "E": 1 << 60}

WRITER_OPTION_NAMES = (
    "default", "group_size", "transpose", "transpose_bucket_size", "window_log",
    "pad_to_block_boundary", "max_parallelism", "saturation_delay_ms",
)
READER_OPTION_NAMES = (
    "readahead_buffer_size", "max_parallelism", "index_storage_option",
    "footer_prefetch_bytes", "verify_checksums",
)


def _items(text: str, valid: tuple[str, ...]) -> dict[str, str | None]:
    """Split an options string into ``{name: value or None}``, checking names and repeats."""
    if not isinstance(text, str):
        raise TypeError(f"options must be a str, not {type(text).__name__}")
    items: dict[str, str | None] = {}
    for position, item in enumerate(text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition(":")
        if name not in valid:
            raise InvalidOptionsError(
                f"unknown option {name!r}; valid options are: {', '.join(sorted(valid))}", item
            )
        if name in items:
            raise InvalidOptionsError(f"option {name} is given twice", item)
        if name == "default" and (position != 0 or sep):
            raise InvalidOptionsError("option default must be first and takes no value", item)
        items[name] = value if sep else None
    return items


def _int(name: str, value: str | None, low: int, high: int) -> int:
    if value is None or not _INT.match(value) or not low <= int(value) <= high:
        raise InvalidOptionsError(
            f"option {name} needs an integer in [{low}, {high}], got {value!r}", f"{name}:{value}"
        )
    return int(value)


def _bytes(name: str, value: str | None, high: int, low: int = 0) -> int | None:
    """A byte count in ``[low, high]`` with an optional suffix (``1.5k``), or None for ``auto``."""
    if value == "auto":
        return None
    match = _BYTES.match(value or "")
    if not match or not low <= float(match.group(1)) * _SUFFIX[match.group(2)] <= high:
        raise InvalidOptionsError(f"option {name} needs a byte size or auto, got {value!r}",
                                  f"{name}:{value}")
    return int(float(match.group(1)) * _SUFFIX[match.group(2)])


def _flag(name: str, items: dict[str, str | None], bare: bool, default: bool = False) -> bool:
    """A true/false option; ``bare`` is its value when given without one."""
    if name not in items:
        return default
    value = items[name]
    if value is None or value == "":
        return bare
    if value in ("true", "false"):
        return value == "true"
    raise InvalidOptionsError(f"option {name} takes true or false, got {value!r}", f"{name}:{value}")


def _parallelism(value: str | None, low: int) -> int:
    """``auto`` means one thread per core."""
    if value == "auto":
        return CPUS
    return _int("max_parallelism", value, low, INT32_MAX)


# Writer options that describe how a file was written, not what it holds.
_HOW_WRITTEN = ("max_parallelism", "transpose", "transpose_bucket_size")


def rewrite_options(recorded: str) -> str:
    """A file's recorded writer options without those that only say how it was written.

    What a rewrite of the file (``recover``, ``compact``) writes with: the same
    group size, codec and padding, encoded as fast as this machine can.
    """
    return ",".join(item for item in recorded.split(",") if item and item.partition(":")[0] not in _HOW_WRITTEN)


@dataclass(frozen=True)
class WriterOptions:
    """Parsed writer options; ``str()`` gives the canonical form stored in the footer."""

    group_size: int = 1
    group_size_given: bool = False  # appending takes the file's group size when it is not given
    codec: Codec | None = None  # None until parsed: parse() always sets it
    level: int | None = None
    window_log: int | None = None
    window_log_given: bool = False
    pad_to_block_boundary: bool = False
    transpose: bool = False
    transpose_bucket_size: int = 256
    max_parallelism: int = CPUS
    saturation_delay_ms: int = 10

    @classmethod
    def parse(cls, text: str = "") -> "WriterOptions":
        codec_names = tuple(available_codecs())
        items = _items(text, WRITER_OPTION_NAMES + codec_names)
        chosen = [name for name in items if name in codec_names]
        if len(chosen) > 1:
            raise InvalidOptionsError(f"option {chosen[1]} conflicts with option {chosen[0]}",
                                      chosen[1])
        codec = get_codec(chosen[0] if chosen else "zstd")
        level = codec.default_level
        if chosen and items[chosen[0]]:
            if codec.level_range is None:
                raise InvalidOptionsError(f"option {codec.name} takes no level", chosen[0])
            level = _int(codec.name, items[chosen[0]], *codec.level_range)
        window_log = codec.default_window_log
        window_given = "window_log" in items and items["window_log"] != "auto"
        if "window_log" in items:
            if codec.window_log_range is None:
                raise InvalidOptionsError(f"option window_log conflicts with option {codec.name}",
                                          "window_log")
            if window_given:
                window_log = _int("window_log", items["window_log"], *codec.window_log_range)
        return cls(
            group_size=_int("group_size", items["group_size"], 1, INT32_MAX)
            if "group_size" in items else 1,
            group_size_given="group_size" in items,
            codec=codec,
            level=level,
            window_log=window_log,
            window_log_given=window_given,
            # Bare pad_to_block_boundary means false, as in the reference 0.8.6.
            pad_to_block_boundary=_flag("pad_to_block_boundary", items, bare=False),
            transpose=_flag("transpose", items, bare=True),
            transpose_bucket_size=_bytes("transpose_bucket_size",
                                         items.get("transpose_bucket_size", "256"), 2**64 - 1, 1) or 256,
            max_parallelism=_parallelism(items.get("max_parallelism", "auto"), 1),
            saturation_delay_ms=_int("saturation_delay_ms", items["saturation_delay_ms"], 1, INT32_MAX)
            if "saturation_delay_ms" in items else 10,
        )

    def __str__(self) -> str:
        """The canonical string the reference writer records (FORMAT.md §7.2).

        ``max_parallelism`` is recorded as 1, as the reference's Python writer
        does: it does not change a single byte of the file, and recording it
        as given would make otherwise identical files differ.
        """
        codec = self.codec
        parts = [
            f"group_size:{self.group_size}",
            f"transpose:{str(self.transpose).lower()}",
            f"pad_to_block_boundary:{str(self.pad_to_block_boundary).lower()}",
        ]
        if self.transpose:
            parts.append(f"transpose_bucket_size:{self.transpose_bucket_size}")
        if codec.level_range is not None and codec.level_in_options:
            parts.append(f"{codec.name}:{self.level}")
        else:
            parts.append(codec.name)
        if self.window_log is not None and (self.window_log_given or codec.default_window_log):
            parts.append(f"window_log:{self.window_log}")
        parts.append("max_parallelism:1")
        return ",".join(parts)


@dataclass(frozen=True)
class ReaderOptions:
    """Parsed reader options.

    ``readahead_buffer_size`` bounds the bytes decoded ahead during sequential
    reads; ``max_parallelism`` bounds the decoders running ahead of sequential
    reads (0: none, they decode on the calling thread) and the threads one
    batch call uses (at 0, all for compressed chunks that are not tiny, as the
    reference's batch reads use its pool); ``footer_prefetch_bytes`` is how
    much of a remote object's tail opening reads in one request (the
    postscript and, usually, the footer); ``index_storage_option`` is accepted
    for compatibility (the index always lives in memory, at 16 bytes a
    chunk); ``verify_checksums`` turns the hash
    checks of chunk and block headers and chunk data on or off (each chunk's
    agreement with its footer entry is checked either way).
    """

    readahead_buffer_size: int = 16 << 20
    max_parallelism: int = CPUS
    index_storage_option: str = "in_memory"
    verify_checksums: bool = True
    footer_prefetch_bytes: int = 256 << 10

    @classmethod
    def parse(cls, text: str = "") -> "ReaderOptions":
        items = _items(text, READER_OPTION_NAMES)
        storage = items.get("index_storage_option") or "in_memory"
        if storage not in ("in_memory", "offloaded"):
            raise InvalidOptionsError(
                f"option index_storage_option takes in_memory or offloaded, got {storage!r}",
                f"index_storage_option:{storage}",
            )
        prefetch = _bytes("footer_prefetch_bytes", items.get("footer_prefetch_bytes", "auto"), 2**62)
        readahead = _bytes("readahead_buffer_size", items.get("readahead_buffer_size", "auto"), 1 << 30)
        return cls(
            readahead_buffer_size=cls.readahead_buffer_size if readahead is None else readahead,
            max_parallelism=_parallelism(items.get("max_parallelism", "auto"), 0),
            index_storage_option=storage,
            verify_checksums=_flag("verify_checksums", items, bare=True, default=True),
            footer_prefetch_bytes=cls.footer_prefetch_bytes if prefetch is None else prefetch,
        )
