"""Where mmrecord's bytes live: local files, and objects reached by URL through fsspec."""
