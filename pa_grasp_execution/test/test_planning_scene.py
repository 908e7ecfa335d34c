"""planning_scene.py: the table's top face where configured, stable ids, and the changes that
take MoveIt's world from one goal's objects to the next."""

import pytest

from pa_grasp_execution.executor_config import ExecutorConfig
from pa_grasp_execution.planning_scene import TABLE_ID, SceneObject, scene_changes, scene_objects, table_box
from pa_grasp_perception.obstacles import CollisionBox

BOX = CollisionBox((0.5, 0.1, 0.03), (0.025, 0.025, 0.06))


def test_the_table_box_has_its_top_face_at_the_table_top():
    table = table_box(-0.02, (0.4, 0.1), (0.56, 1.0))
    assert table.upper[2] == pytest.approx(-0.02) and table.lower[2] < -0.02
    assert table.lower[:2] == pytest.approx([0.12, -0.4]) and table.upper[:2] == pytest.approx([0.68, 0.6])
    with pytest.raises(ValueError, match="> 0"):
        table_box(0.0, (0.4, 0.0), (0.0, 1.0))


def test_the_default_table_is_the_simulations_and_clear_of_the_robots_base():
    table = ExecutorConfig().table()
    assert table.upper[2] == 0.0 and table.center[:2] == (0.40, 0.0)
    assert table.lower[0] > 0.10  # the TX60's base is a cylinder of radius 0.10 m at the origin


def test_objects_have_stable_ids_and_the_next_goal_replaces_the_previous_ones():
    table = ExecutorConfig().table()
    first = scene_objects(table, [BOX, BOX, BOX])
    assert [o.id for o in first] == [TABLE_ID, "grasp_obstacle_000", "grasp_obstacle_001", "grasp_obstacle_002"]
    second = scene_objects(table, [BOX])
    adds, removes = scene_changes([o.id for o in first], second)
    assert adds == second and removes == ["grasp_obstacle_001", "grasp_obstacle_002"]
    assert scene_changes([o.id for o in second], []) == ([], sorted([TABLE_ID, "grasp_obstacle_000"]))
    with pytest.raises(ValueError, match="unique"):
        scene_changes([], [SceneObject("a", BOX), SceneObject("a", BOX)])
