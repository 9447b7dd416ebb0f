"""Compression codecs: the :class:`Codec` protocol and the plugin registry.

Importing this package loads no compression library; the codecs (built-in and
third-party alike) are found through the ``mmrecord.codecs`` entry-point group
on the first lookup.
"""

from .registry import (
    ENTRY_POINT_GROUP,
    Codec,
    available_codecs,
    get_codec,
    get_codec_by_id,
    register_codec,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Codec",
    "available_codecs",
    "get_codec",
    "get_codec_by_id",
    "register_codec",
]
