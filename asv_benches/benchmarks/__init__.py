"""asv benchmarks for mmrecord (configuration: ../asv.conf.json)."""
