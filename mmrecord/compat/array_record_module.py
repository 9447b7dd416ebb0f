"""The reference's ``array_record.python.array_record_module``: ``ArrayRecordReader`` and ``ArrayRecordWriter``."""

from ..reader import ArrayRecordReader
from ..writer import ArrayRecordWriter

__all__ = ["ArrayRecordReader", "ArrayRecordWriter"]
