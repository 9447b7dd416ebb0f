"""numba kernels: pure functions over NumPy arrays (hashing, varints, block arithmetic, gathering).

Import the kernel modules directly (``from mmrecord.engine.highway import highway_hash``);
this package deliberately imports nothing so that loading one kernel module does not
compile or load the others.
"""
