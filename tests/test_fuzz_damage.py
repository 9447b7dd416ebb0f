"""The damage fuzzer (``tests/fuzz_damage.py``) at a size for CI: every failure count must be zero.

``MMRECORD_FUZZ_CASES`` and ``MMRECORD_FUZZ_SEED`` change the run; the full
one is ``python -m tests.fuzz_damage --cases 10000 --seed 1``.
"""

from __future__ import annotations

import os

import fuzz_damage

CASES = int(os.environ.get("MMRECORD_FUZZ_CASES", "2500"))
SEED = int(os.environ.get("MMRECORD_FUZZ_SEED", "2"))


def test_damaged_files_give_exact_records_or_errors():
    totals, failures = fuzz_damage.run(CASES, SEED, workers=2)
    assert totals["cases"] == CASES
    assert not failures, "\n".join(failures[:20])
    assert not any(totals[name] for name in fuzz_damage.FAILURES), dict(totals)


def test_one_case_replays_the_same_damage():
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        originals = fuzz_damage.build_corpus(directory)
        assert fuzz_damage.make_case(originals, 5, 17) == fuzz_damage.make_case(originals, 5, 17)
        counts, notes = fuzz_damage.check_case(originals, 5, 17, directory)
    assert counts["cases"] == 1 and not notes
