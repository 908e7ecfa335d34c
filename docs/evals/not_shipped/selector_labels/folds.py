"""The cross-validation split the selector analyses beside this file share: scenes (with all
four of their grasps) shuffled once with seed 0 and dealt into folds."""

import numpy as np


def scene_folds(scenes: int, folds: int = 5):
    """(train, test) scene indices for each fold."""
    order = np.random.default_rng(0).permutation(scenes)
    for k in range(folds):
        test = order[k::folds]
        yield np.setdiff1d(order, test), test
