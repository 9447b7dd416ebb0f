"""Google's ``array_record`` Python names, served by mmrecord: porting is a one-line import change.

    # before
    from array_record.python import array_record_module, array_record_data_source
    # after
    from mmrecord.compat import array_record_module, array_record_data_source

``array_record_module.ArrayRecordReader`` / ``ArrayRecordWriter`` and
``array_record_data_source.ArrayRecordDataSource`` are mmrecord's own classes,
which take the reference's arguments (options strings, ``reader_options``
dicts, ``file_reader_buffer_size``, ``file_options``) and raise exceptions
that are instances of what the reference raises (see :mod:`mmrecord.errors`).
"""

from . import array_record_data_source, array_record_module

__all__ = ["array_record_data_source", "array_record_module"]
