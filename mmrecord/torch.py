"""PyTorch: ``ArrayRecordDataset``, a map-style dataset over ArrayRecord files.

    from torch.utils.data import DataLoader
    from mmrecord.torch import ArrayRecordDataset

    dataset = ArrayRecordDataset("train-*.array_record", transform=parse)
    loader = DataLoader(dataset, batch_size=256, shuffle=True, num_workers=2,
                        collate_fn=collate, multiprocessing_context="spawn")

The dataset has ``__getitems__``: with a ``batch_size``, ``DataLoader`` hands
it the whole batch of sampled indices at once, and it reads them in one batch
call on the underlying :class:`~mmrecord.ArrayRecordDataSource` (each shard's
part in one call, every chunk decoded once, spread over the thread pool)
instead of one call per record. It works with ``num_workers`` under ``fork``
and ``spawn``: a worker gets the shard list and the options, never an open
file, and opens shards on first use.

Importing this module imports torch; ``import mmrecord`` alone never does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

try:
    import torch
    from torch.utils.data import Dataset
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "mmrecord.torch needs PyTorch: pip install 'mmrecord[torch]' "
        "(for the CPU-only build, install torch==2.13.0 from the CPU wheel index first)"
    ) from err

from .data_source import ArrayRecordDataSource

__all__ = ["ArrayRecordDataset"]


class ArrayRecordDataset(Dataset):
    """A map-style ``torch.utils.data.Dataset`` of ArrayRecord records.

    ``source`` is an :class:`~mmrecord.ArrayRecordDataSource` or anything it
    accepts as paths (a path, a glob pattern, ``"path[start:end]"``, TFDS
    ``FileInstruction`` objects, or a sequence of them; URLs too);
    ``reader_options`` and ``storage_options`` (fsspec's, for URLs) go to
    the data source when it is built here.

    ``transform``, if given, is applied to each record's ``bytes`` (decode an
    image, parse a protobuf, ...); it must be picklable for ``spawn`` workers.
    Batching stays with ``DataLoader``'s ``collate_fn``: the default one
    returns a batch of ``bytes`` records as a list.
    """

    def __init__(self, source: ArrayRecordDataSource | Any,
                 reader_options: Mapping[str, object] | str | None = None, *,
                 transform: Callable[[bytes], Any] | None = None,
                 storage_options: Mapping[str, Any] | None = None) -> None:
        if isinstance(source, ArrayRecordDataSource):
            if reader_options is not None or storage_options is not None:
                raise ValueError("reader_options and storage_options are given to the data source, not with one")
            self.source = source
        else:
            self.source = ArrayRecordDataSource(source, reader_options, storage_options=storage_options)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index):
        """One record (``index`` an integer, a 0-d tensor included), transformed."""
        if isinstance(index, torch.Tensor):
            index = index.tolist()
        record = self.source[index]
        if self.transform is None:
            return record
        if isinstance(record, list):
            return [self.transform(r) for r in record]
        return self.transform(record)

    def __getitems__(self, indices: Sequence[int]) -> list:
        """The records at ``indices`` in order, read in one batch call, each transformed."""
        if isinstance(indices, torch.Tensor):
            indices = indices.tolist()
        records = self.source.__getitems__(indices)
        if self.transform is None:
            return records
        transform = self.transform
        return [transform(r) for r in records]

    def __repr__(self) -> str:
        transform = "" if self.transform is None else f", transform={self.transform!r}"
        return f"ArrayRecordDataset({self.source!r}{transform})"
