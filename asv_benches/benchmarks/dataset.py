"""The benchmark datasets, shared by the asv benchmarks and ``asv_benches/compare.py``.

Two record sets: text records of about 1.5 KB, and many small records of 32 to
100 random bytes (``small_records``), where per-record costs dominate.

Text records are English-like text (words drawn from a fixed vocabulary with a
Zipf-like distribution, with some sentence punctuation), about 1.5 KB each
and varying in length, generated deterministically from a seed. Text
compresses roughly as prose does (zstd:3 shrinks a record to about half, and
a group of many records to about 1/2.7), so the codec cost is realistic.
"""

from __future__ import annotations

import numpy as np

SEED = 20240601
NUM_RECORDS = 65_536  # compare.py's dataset
ASV_NUM_RECORDS = 16_384  # the asv benchmarks', smaller to keep a full asv run in minutes
NUM_SMALL_RECORDS = 1_000_000
SMALL_RECORD_BYTES = (32, 100)  # the small records' shortest and longest
GROUP_SIZES = (1, 256)
MEAN_RECORD_BYTES = 1_536

# Options strings, as the reference spells them.
CODECS = ("uncompressed", "snappy", "zstd:3", "brotli:6")

_WORDS = """
the of and to a in is it you that he was for on are with as his they be at one have this
from or had by hot word but what some we can out other were all there when up use your how
said an each she which do their time if will way about many then them write would like so
these her long make thing see him two has look more day could go come did number sound no
most people my over know water than call first who may down side been now find any new work
part take get place made live where after back little only round man year came show every
good me give our under name very through just form sentence great think say help low line
differ turn cause much mean before move right boy old too same tell does set three want air
well also play small end put home read hand port large spell add even land here must big
high such follow act why ask men change went light kind off need house picture try us again
animal point mother world near build self earth father head stand own page should country
found answer school grow study still learn plant cover food sun four between state keep eye
never last let thought city tree cross farm hard start might story saw far sea draw left
late run while press close night real life few north open seem together next white children
begin got walk example ease paper group always music those both mark often letter until mile
river car feet care second book carry took science eat room friend began idea fish mountain
stop once base hear horse cut sure watch color face wood main enough plain girl usual young
ready above ever red list though feel talk bird soon body dog family direct pose leave song
measure door product black short numeral class wind question happen complete ship area half
rock order fire south problem piece told knew pass since top whole king space heard best
hour better true during hundred five remember step early hold west ground interest reach
fast verb sing listen six table travel less morning ten simple several vowel toward war lay
against pattern slow center love person money serve appear road map rain rule govern pull
cold notice voice unit power town fine certain fly fall lead cry dark machine note wait plan
figure star box noun field rest correct able pound done beauty drive stood contain front
teach week final gave green oh quick develop ocean warm free minute strong special mind
behind clear tail produce fact street inch multiply nothing course stay wheel full force
blue object decide surface deep moon island foot system busy test record boat common gold
""".split()


def _token_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tokens (word + separator) as one byte buffer with offsets, lengths and probabilities."""
    ranks = np.arange(len(_WORDS), dtype=np.float64)
    zipf = 1.0 / (ranks + 2.7)
    zipf /= zipf.sum()
    tokens: list[bytes] = []
    probs: list[float] = []
    for sep, share in ((b" ", 0.86), (b". ", 0.08), (b", ", 0.06)):
        tokens += [w.encode() + sep for w in _WORDS]
        probs += list(zipf * share)
    lengths = np.array([len(t) for t in tokens], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    buffer = np.frombuffer(b"".join(tokens), dtype=np.uint8)
    return buffer, offsets, lengths, np.array(probs) / np.sum(probs)


def make_records(n: int = NUM_RECORDS, mean_bytes: int = MEAN_RECORD_BYTES,
                 seed: int = SEED) -> list[bytes]:
    """``n`` text records of ``mean_bytes`` on average (between 3/4 and 5/4 of it)."""
    rng = np.random.default_rng(seed)
    buffer, offsets, lengths, probs = _token_table()
    mean_token = float(lengths @ probs)
    low, high = int(mean_bytes * 0.75 / mean_token), int(mean_bytes * 1.25 / mean_token)
    words_per_record = rng.integers(low, high + 1, size=n)
    records: list[bytes] = []
    block = 4096  # records per vectorised gather, bounding the index array's size
    for start in range(0, n, block):
        counts = words_per_record[start:start + block]
        ids = rng.choice(len(lengths), size=int(counts.sum()), p=probs)
        token_lengths = lengths[ids]
        ends = np.cumsum(token_lengths)
        # Byte i of the output comes from buffer[offsets[token] + (i - token start)].
        gather = np.repeat(offsets[ids] - (ends - token_lengths), token_lengths)
        text = buffer[gather + np.arange(int(ends[-1]), dtype=np.int64)].tobytes()
        record_ends = ends[np.cumsum(counts) - 1]
        record_starts = np.concatenate(([0], record_ends[:-1]))
        # Drop each record's trailing separator space.
        records += [text[a:b - 1] for a, b in zip(record_starts.tolist(), record_ends.tolist())]
    return records


def small_records(n: int = NUM_SMALL_RECORDS, seed: int = SEED + 3) -> list[bytes]:
    """``n`` records of random bytes, each 32 to 100 bytes long (uniformly)."""
    rng = np.random.default_rng(seed)
    low, high = SMALL_RECORD_BYTES
    ends = np.cumsum(rng.integers(low, high + 1, size=n)).tolist()
    blob = rng.bytes(ends[-1]) if n else b""
    return [blob[a:b] for a, b in zip([0] + ends[:-1], ends)]


def random_indices(num_records: int, count: int, seed: int = SEED + 1) -> np.ndarray:
    """A fixed sample of ``count`` record indices (with repeats), as int64."""
    return np.random.default_rng(seed).integers(0, num_records, size=count, dtype=np.int64)


def permutation(num_records: int, seed: int = SEED + 2) -> np.ndarray:
    """A fixed permutation of ``range(num_records)``, as int64."""
    return np.random.default_rng(seed).permutation(num_records).astype(np.int64)


def writer_options(codec: str, group_size: int) -> str:
    """The writer options string for a codec and group size, e.g. ``group_size:1,zstd:3``."""
    return f"group_size:{group_size},{codec}"
