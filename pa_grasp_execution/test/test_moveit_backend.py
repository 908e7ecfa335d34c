"""MoveItBackend with a fake MoveIt (moveit_py is not installable here): what the world holds when
each motion is planned, how one goal's obstacles replace the previous goal's, and the close as a
FollowJointTrajectory goal whose tolerance-violation ending is a normal close."""

import math
import threading
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
import pytest

from pa_grasp_description import moveit, robot
from pa_grasp_execution.executor_config import ExecutorConfig
from pa_grasp_execution.moveit_backend import MoveItApi, MoveItBackend
from pa_grasp_execution.plan import plan_grasp
from pa_grasp_execution.planning_scene import TABLE_ID
from pa_grasp_perception.grasp_geometry import grasp_palm_pose
from pa_grasp_perception.obstacles import CollisionBox

SPREAD = 0.4
HELD = 1.1  # a proximal joint stopped by an object


class FakeCollisionObject(SimpleNamespace):
    ADD, REMOVE = b"\x00", b"\x01"  # moveit_msgs' byte constants


class FakeSolidPrimitive(SimpleNamespace):
    BOX = 1


class FakeState:
    def __init__(self, model=None, joint_positions=None):
        self.joint_positions = dict(joint_positions or {})

    def update(self):
        pass

    def set_from_ik(self, group, pose, link, timeout):
        return True

    def get_joint_group_positions(self, group):
        return [0.0, 0.5, 1.0, 0.0, 0.5, 0.0]


class FakeScene:
    """MoveIt's world as {id: CollisionObject}; removing an unknown id is an error in MoveIt too."""

    def __init__(self, proximal):
        self.world = {}
        self.current_state = FakeState(
            joint_positions={"bh_j11_joint": SPREAD, **{j: proximal for j in robot.PROXIMAL_JOINTS}}
        )

    def apply_collision_object(self, message):
        if message.operation == FakeCollisionObject.ADD:
            self.world[message.id] = message
        else:
            assert message.id in self.world, f"REMOVE of '{message.id}', which is not in the world"
            del self.world[message.id]


class FakeComponent:
    def __init__(self, name, moveit_py):
        self.name, self.moveit_py = name, moveit_py

    def set_start_state_to_current_state(self):
        pass

    def set_goal_state(self, **goal):
        self.goal = goal

    def plan(self, single_plan_parameters):
        what = self.goal.get("configuration_name") or ("pose" if "pose_stamped_msg" in self.goal else "state")
        world = sorted(self.moveit_py.scene.world)
        self.moveit_py.plans.append((self.name, what, world))
        if self.moveit_py.fails(self.name, what, world):
            return None
        return SimpleNamespace(trajectory=object())


class FakeMoveItPy:
    def __init__(self, node_name, config_dict, proximal=HELD, fails=lambda component, what, world: False):
        self.scene, self.plans, self.fails = FakeScene(proximal), [], fails

    def get_robot_model(self):
        return object()

    def get_planning_component(self, name):
        return FakeComponent(name, self)

    def get_planning_scene_monitor(self):
        scene = self.scene

        class Monitor:
            @contextmanager
            def read_only(self):
                yield scene

            read_write = read_only

        return Monitor()

    def execute(self, trajectory, controllers):
        return True

    def shutdown(self):
        pass


class FakeFollowJointTrajectory:
    class Goal:
        def __init__(self):
            self.trajectory = SimpleNamespace(joint_names=[], points=[])

    class Result:
        SUCCESSFUL, INVALID_GOAL, PATH_TOLERANCE_VIOLATED, GOAL_TOLERANCE_VIOLATED = 0, -1, -4, -5


class Done:
    def __init__(self, value):
        self.value = value

    def add_done_callback(self, callback):
        callback(self)

    def result(self):
        return self.value


class Never(Done):
    def add_done_callback(self, callback):
        pass


class FakeHandController:
    """The hand's FollowJointTrajectory server: accepts or not, ends with error_code or never."""

    def __init__(self, node, action_type, name, callback_group=None):
        self.name, self.goals, self.canceled = name, [], threading.Event()
        self.accept, self.error_code = True, FakeFollowJointTrajectory.Result.GOAL_TOLERANCE_VIOLATED

    def wait_for_server(self, timeout_sec):
        return True

    def send_goal_async(self, goal):
        self.goals.append(goal)
        result = SimpleNamespace(result=SimpleNamespace(error_code=self.error_code, error_string="scripted"))
        handle = SimpleNamespace(
            accepted=self.accept,
            get_result_async=lambda: Never(None) if self.error_code is None else Done(result),
            cancel_goal_async=self.canceled.set,
        )
        return Done(handle)

    def destroy(self):
        pass


def make_backend(config=None, **moveit_kwargs):
    api = MoveItApi(
        MoveItPy=lambda **kwargs: FakeMoveItPy(**kwargs, **moveit_kwargs),
        PlanRequestParameters=lambda moveit_py, name: name,
        RobotState=FakeState,
        FollowJointTrajectory=FakeFollowJointTrajectory,
        JointTrajectoryPoint=SimpleNamespace,
        CollisionObject=FakeCollisionObject,
        SolidPrimitive=FakeSolidPrimitive,
        ActionClient=FakeHandController,
    )
    node = SimpleNamespace(get_name=lambda: "executor_node")
    return MoveItBackend(node, config or ExecutorConfig(), api=api)


def a_plan(obstacles=()):
    T = grasp_palm_pose(np.array([0.55, 0.05, 0.03]), 0.0, math.pi / 2, 0.0, 0.05)
    return plan_grasp(T, [SPREAD, 0.1, 0.1, 0.1], ExecutorConfig().plan_config(), obstacles=obstacles)


def run(backend, plan):
    return backend.execute(plan, feedback=lambda stage, text: None, cancelled=lambda: False)


BOXES = [CollisionBox((0.3, -0.2, 0.04), (0.025, 0.025, 0.08)), CollisionBox((0.7, 0.1, 0.02), (0.025, 0.025, 0.04))]


def world_at(backend, component, what):
    return next(world for name, w, world in backend.moveit.plans if (name, w) == (component, what))


def test_the_free_motions_and_the_approach_are_planned_with_the_table_and_the_obstacles():
    backend = make_backend()
    outcome = run(backend, a_plan(BOXES))
    assert outcome.success, outcome.reason
    full = sorted([TABLE_ID, "grasp_obstacle_000", "grasp_obstacle_001"])
    plans = backend.moveit.plans
    assert [(name, what) for name, what, _ in plans] == [
        (moveit.HAND_GROUP, "state"),  # pre-shape
        (moveit.ARM_GROUP, "state"),  # to the pre-grasp pose
        (moveit.ARM_GROUP, "pose"),  # approach
        (moveit.ARM_GROUP, "pose"),  # lift
        (moveit.ARM_GROUP, moveit.HOME_STATE),
    ]
    assert [world for _, _, world in plans] == [full, full, full, [], full]  # the lift alone in an empty world
    world = backend.moveit.scene.world
    for box, object_id in zip(BOXES, ("grasp_obstacle_000", "grasp_obstacle_001")):
        (primitive,), (pose,) = world[object_id].primitives, world[object_id].primitive_poses
        assert primitive.type == FakeSolidPrimitive.BOX and tuple(primitive.dimensions) == box.size
        assert (pose.position.x, pose.position.y, pose.position.z) == pytest.approx(box.center)
        assert world[object_id].header.frame_id == "base_link"
    (table,), (table_pose,) = world[TABLE_ID].primitives, world[TABLE_ID].primitive_poses
    assert table_pose.position.z + 0.5 * table.dimensions[2] == pytest.approx(0.0)  # top face at table_z_m
    assert (table_pose.position.x, table_pose.position.y) == pytest.approx((0.40, 0.0))


def test_the_next_goals_obstacles_replace_the_previous_ones():
    backend = make_backend()
    run(backend, a_plan(BOXES))
    moved = CollisionBox((0.25, 0.3, 0.05), (0.025, 0.025, 0.1))
    run(backend, a_plan([moved]))
    world = backend.moveit.scene.world
    assert sorted(world) == sorted([TABLE_ID, "grasp_obstacle_000"])
    assert world["grasp_obstacle_000"].primitive_poses[0].position.y == pytest.approx(0.3)
    run(backend, a_plan())
    assert sorted(world) == [TABLE_ID]


def test_a_failed_lift_still_puts_the_world_back_for_going_home():
    backend = make_backend(fails=lambda component, what, world: what == "pose" and not world)
    outcome = run(backend, a_plan(BOXES))
    assert not outcome.success and "the lift" in outcome.reason
    *_, (_, open_what, open_world), (_, home_what, home_world) = backend.moveit.plans
    assert (open_what, home_what) == (moveit.OPEN_STATE, moveit.HOME_STATE)
    assert open_world == home_world == sorted([TABLE_ID, "grasp_obstacle_000", "grasp_obstacle_001"])


def test_the_close_moves_the_three_fingers_with_the_spread_held():
    config = ExecutorConfig(close_duration_s=1.5)
    backend = make_backend(config)
    assert run(backend, a_plan()).success
    assert backend.close_client.name == "bh280_hand_controller/follow_joint_trajectory"
    (goal,) = backend.close_client.goals
    assert goal.trajectory.joint_names == list(moveit.HAND_ACTIVE_JOINTS)
    (point,) = goal.trajectory.points
    assert point.positions == [SPREAD] + [config.close_position_rad] * 3  # spread: the measured one
    assert point.time_from_start.sec + 1e-9 * point.time_from_start.nanosec == pytest.approx(1.5)


R = FakeFollowJointTrajectory.Result


@pytest.mark.parametrize("code", [R.GOAL_TOLERANCE_VIOLATED, R.PATH_TOLERANCE_VIOLATED, R.SUCCESSFUL])
def test_fingers_stopped_on_contact_are_a_normal_close(code):
    backend = make_backend()
    backend.close_client.error_code = code
    assert run(backend, a_plan()).success


def test_a_close_that_fails_rejects_or_hangs_is_a_failure_and_nothing_is_lifted():
    backend = make_backend()
    backend.close_client.error_code = R.INVALID_GOAL
    outcome = run(backend, a_plan())
    assert not outcome.success and "error -1" in outcome.reason
    backend = make_backend()
    backend.close_client.accept = False
    assert "did not accept" in run(backend, a_plan()).reason
    backend = make_backend(ExecutorConfig(close_duration_s=0.05, close_timeout_s=0.2))
    backend.close_client.error_code = None  # no result ever
    assert "took longer" in run(backend, a_plan()).reason
    assert backend.close_client.canceled.is_set()
    assert [what for _, what, _ in backend.moveit.plans].count("pose") == 1, "the approach, no lift"


def test_fingers_closed_on_nothing_are_not_a_grasp():
    backend = make_backend(proximal=robot.PROXIMAL_LIMIT)
    outcome = run(backend, a_plan())
    assert not outcome.success and "nothing held" in outcome.reason
