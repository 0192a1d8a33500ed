"""Run kernelkit on a Dask cluster: the same calls, on Dask arrays.

The engine functions accept Dask arrays directly and return lazy Dask arrays::

    import dask.array as da, kernelkit
    from distributed import Client

    client = Client("tcp://scheduler:8786")          # or LocalCluster(), dask-jobqueue, ...
    X = da.from_zarr("points.zarr")                  # (n, d), chunked by rows
    density = kernelkit.kernel_sum(kernel, X, Y)     # lazy, one engine call per chunk
    density.compute()

How it runs
-----------
* X is split by its row chunks (chunks along the feature axis are merged first, silently:
  each task needs whole rows). Each task is one pure engine call on one chunk, so Dask may
  rerun it on any worker after a failure; results are never double counted because each
  row's value comes from exactly one task.
* Y, V and weights (numpy or Dask) are placed on the cluster once (:func:`share`):
  scattered to every worker when a ``distributed.Client`` is active, otherwise one graph
  key every task depends on. They must fit in one worker's memory: O(m (d + k)).
* Each task runs with the caller's ``backend`` and ``working_memory`` (divided by the
  worker's threads, so a worker's scratch memory stays within ``working_memory``) and
  ``n_jobs=1``: Dask provides the parallelism, one task per worker thread.

Which argument combinations work
--------------------------------
========================  =======================  ================================
X                         Y / V / weights          result
========================  =======================  ================================
Dask                      numpy, Dask or None      Dask array(s), chunked like X
numpy                     any Dask                 InputTypeError (make X Dask)
Dask                      torch tensor             InputTypeError
========================  =======================  ================================

:class:`kernelkit.KernelOperator` accepts a Dask X (and Y): products take and return
numpy vectors, and the big pass runs on the cluster, so ``solve`` (scipy CG) and any
other scipy solver work unchanged.

For code that distributes its own big pass (estimators), :func:`map_row_chunks` maps any
engine call over X's row chunks with shared inputs placed once.

:func:`kernelkit.ops.normal_matvec` (``K(C, X) W K(X, C) U``, a sum over the rows of X)
accepts a Dask X too: one task per chunk, the (m, k) parts summed by a small tree of
tasks; :class:`kernelkit.regression.FalkonRegressor` fits on Dask X and y with it.
"""

from .._optional import import_optional

import_optional("dask.array")

from ._client import SchedulerConnectionError, active_client, connect  # noqa: E402
from ._engine import kernel_sum, knn, logsumexp, matvec  # noqa: E402
from ._map import map_row_chunks, row_chunks, share, task_config  # noqa: E402

__all__ = ["connect", "active_client", "SchedulerConnectionError", "map_row_chunks",
           "share", "task_config", "row_chunks", "matvec", "kernel_sum", "logsumexp", "knn"]
