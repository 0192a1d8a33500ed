"""``kernelkit.distributed.share`` ships containers whole, with or without a client."""

from __future__ import annotations

import numpy as np
import pytest

from kernelkit.distributed import map_row_chunks, row_chunks, share


def _first_plus_offset(chunk, state):
    weights, offset = state  # a tuple shared as one value
    return chunk @ weights + offset


@pytest.mark.parametrize("with_client", [True, False])
def test_tuple_state_reaches_tasks_as_one_value(request, rng, with_client):
    if with_client:
        request.getfixturevalue("client")
    X = rng.normal(size=(50, 3))
    state = (np.arange(3.0), 2.5)
    got = map_row_chunks(_first_plus_offset, row_chunks(X, rows=16), share(state),
                         dtype=np.float64).compute()
    np.testing.assert_array_equal(got, X @ np.arange(3.0) + 2.5)
