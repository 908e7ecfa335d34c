"""The procedural families added for the hand's degrees of freedom (issue 51): they build in a
real PyBullet world with the size they claim, and both sets carry them without sharing objects."""

import numpy as np
import pytest

from pa_grasp_sim.objects import SEEN_FAMILIES, ObjectSet, load_object_set, procedural_objects
from pa_grasp_sim.world import GraspWorld, WorldConfig

NEW_FAMILIES = ("bowl", "large_ball", "long_handle")


@pytest.mark.parametrize("family", NEW_FAMILIES)
def test_family_builds_at_its_claimed_size_and_rests_on_the_table(family):
    objects = procedural_objects((family,), 0, 3)
    with GraspWorld(WorldConfig(), ObjectSet(family, objects), seed=0) as world:
        for seed in range(3):
            world.reset(1, seed=seed)
            assert len(world.objects) == 1
            placed = world.objects[0]
            lo, hi = (np.asarray(c) for c in world.client.getAABB(placed.body))
            # The box around it, however it lies, holds the claimed extent and not much more
            # than a cube of it (a bounding box of a turned body is looser than the body).
            assert 0.6 * placed.spec.extent <= (hi - lo).max() <= 1.75 * placed.spec.extent
            assert -0.02 < lo[2] < 0.01  # on the table top (z = 0; PyBullet pads AABBs by a contact margin)


def test_new_families_are_in_both_sets_with_distinct_instances():
    assert set(NEW_FAMILIES) <= set(SEEN_FAMILIES)
    seen, novel = load_object_set("seen"), load_object_set("novel")
    assert set(NEW_FAMILIES) <= seen.families and set(NEW_FAMILIES) <= novel.families
    assert not seen.names & novel.names
    large = [o.extent for o in seen.objects if o.family == "large_ball"]
    assert min(large) >= 0.10  # wider than the parallel grip's comfortable range
