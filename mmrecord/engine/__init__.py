"""numba kernels: pure functions over NumPy arrays (hashing, varints, block arithmetic, gathering).

Import the kernel modules directly (``from mmrecord.engine.highway import highway_hash``);
this package imports no kernel module, so that loading one does not compile or
load the others. It only tells numba where mmrecord's kernels are cached and
starts watching for their compilation (:mod:`.kernel_cache`), before any
kernel is defined.
"""

from .kernel_cache import install as _install_cache, watch_compiles as _watch_compiles

_install_cache()
_watch_compiles()
