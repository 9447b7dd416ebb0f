"""The reference's ``array_record.python.array_record_data_source``: ``ArrayRecordDataSource``."""

from ..data_source import ArrayRecordDataSource, FileInstruction

__all__ = ["ArrayRecordDataSource", "FileInstruction"]
