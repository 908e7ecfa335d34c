"""Shared fixtures of the policy-core tests: one CPU thread, fixed seeds, small networks."""

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
    yield
