"""The generated URDFs parse, load in PyBullet and have the kinematics the stack relies on."""

import math
import xml.etree.ElementTree as ET

import numpy as np
import pybullet as pb
import pytest

from pa_grasp_description import generate_urdf, robot

ALL_FILES = (robot.hand_urdf_path(), robot.arm_urdf_path(), robot.robot_urdf_path())
ROOTS = {
    robot.HAND_URDF_NAME: robot.HAND_BASE_LINK,
    robot.ARM_URDF_NAME: robot.BASE_LINK,
    robot.ROBOT_URDF_NAME: robot.BASE_LINK,
}
FRAME_ONLY_LINKS = {robot.PALM_LINK, robot.FLANGE_LINK}  # tiny mass, no collision shape
FINGER_REACH = robot.PROXIMAL_LENGTH + robot.DISTAL_LENGTH


@pytest.fixture(scope="module")
def client():
    cid = pb.connect(pb.DIRECT)
    yield cid
    pb.disconnect(physicsClientId=cid)


@pytest.fixture
def sim(client):
    pb.resetSimulation(physicsClientId=client)
    return client


def load(cid, path, **kwargs):
    return pb.loadURDF(str(path), useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=cid, **kwargs)


def joint_index(cid, body):
    return {
        pb.getJointInfo(body, i, physicsClientId=cid)[1].decode(): i
        for i in range(pb.getNumJoints(body, physicsClientId=cid))
    }


def link_index(cid, body):
    n = pb.getNumJoints(body, physicsClientId=cid)
    return {pb.getJointInfo(body, i, physicsClientId=cid)[12].decode(): i for i in range(n)}


def movable_joints(cid, body):
    infos = (pb.getJointInfo(body, i, physicsClientId=cid) for i in range(pb.getNumJoints(body, physicsClientId=cid)))
    return [info[1].decode() for info in infos if info[2] != pb.JOINT_FIXED]


def set_joints(cid, body, values):
    index = joint_index(cid, body)
    for name, value in values.items():
        pb.resetJointState(body, index[name], value, physicsClientId=cid)


def link_pose(cid, body, link):
    """World position and 3x3 rotation of a URDF link frame."""
    state = pb.getLinkState(body, link_index(cid, body)[link], computeForwardKinematics=True, physicsClientId=cid)
    return np.array(state[4]), np.array(pb.getMatrixFromQuaternion(state[5])).reshape(3, 3)


def fingertips(cid, body):
    """World positions of the three fingertips (end of the distal links), fingers 1, 2, 3."""
    tips = []
    for link in robot.FINGERTIP_LINKS:
        pos, rot = link_pose(cid, body, link)
        tips.append(pos + rot @ np.array([0.0, 0.0, robot.DISTAL_LENGTH]))
    return np.array(tips)


def hand_pose(spread=0.0, proximal=0.0):
    values = {j: spread for j in robot.SPREAD_JOINTS}
    values.update({j: proximal for j in robot.PROXIMAL_JOINTS})
    values.update({j: robot.DISTAL_COUPLING * proximal for j in robot.DISTAL_JOINTS})
    return values


# --- files -----------------------------------------------------------------------------------
def test_paths_point_into_the_package_and_files_are_up_to_date():
    package_dir = robot.URDF_DIR.parent
    expected = generate_urdf.generated_files()
    assert set(expected) == {p.name for p in ALL_FILES}
    for path in ALL_FILES:
        assert path.parent == package_dir / "urdf" and path.is_file()
        assert path.read_text() == expected[path.name], f"{path.name} is stale: run python -m {generate_urdf.__name__}"
    assert generate_urdf.main(["--check"]) == 0


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_xml_is_a_tree_with_the_expected_root(path):
    root = ET.parse(path).getroot()
    assert root.tag == "robot"
    links = [link.get("name") for link in root.findall("link")]
    joints = root.findall("joint")
    assert len(links) == len(set(links)) and len(joints) == len(links) - 1
    children = [j.find("child").get("link") for j in joints]
    assert len(children) == len(set(children))
    for joint in joints:
        assert joint.find("parent").get("link") in links and joint.find("child").get("link") in links
    assert set(links) - set(children) == {ROOTS[path.name]}


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_links_have_mass_inertia_and_collision(path, sim):
    root = ET.parse(path).getroot()
    for link in root.findall("link"):
        name = link.get("name")
        mass = float(link.find("inertial/mass").get("value"))
        inertia = link.find("inertial/inertia").attrib
        principal = np.linalg.eigvalsh(
            np.array(
                [[float(inertia[f"i{a}{b}" if f"i{a}{b}" in inertia else f"i{b}{a}"]) for b in "xyz"] for a in "xyz"]
            )
        )
        assert mass > 0 and principal.min() > 0, name
        # A physical tensor: each principal moment is at most the sum of the other two.
        assert principal.max() <= principal.sum() - principal.max() + 1e-12, name
        has_collision = link.find("collision") is not None
        assert has_collision == (name not in FRAME_ONLY_LINKS), name
        assert link.find("visual") is not None or name in FRAME_ONLY_LINKS, name
    body = load(sim, path)
    for name, index in link_index(sim, body).items():
        mass, _, inertia_diag = pb.getDynamicsInfo(body, index, physicsClientId=sim)[:3]
        assert mass > 0 and min(inertia_diag) > 0, name
        shapes = pb.getCollisionShapeData(body, index, physicsClientId=sim)
        assert (len(shapes) > 0) == (name not in FRAME_ONLY_LINKS), name


def test_masses_are_plausible():
    def masses(path):
        return {
            link.get("name"): float(link.find("inertial/mass").get("value"))
            for link in ET.parse(path).getroot().findall("link")
        }

    hand, arm, both = masses(robot.hand_urdf_path()), masses(robot.arm_urdf_path()), masses(robot.robot_urdf_path())
    assert sum(hand.values()) == pytest.approx(1.2, abs=0.05)
    assert sum(arm.values()) == pytest.approx(50.0, abs=5.0)
    assert both == {**arm, **hand}
    for name, mass in hand.items():
        if name.startswith("bh_finger_"):
            assert 0.01 <= mass <= 0.1, name


# --- hand ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", (robot.hand_urdf_path(), robot.robot_urdf_path()), ids=lambda p: p.name)
def test_hand_joint_names_limits_and_mimics(path, sim):
    root = ET.parse(path).getroot()
    joints = {j.get("name"): j for j in root.findall("joint")}
    assert "bh_j31_joint" not in joints  # finger 3 does not spread
    assert joints["bh_j32_joint"].find("parent").get("link") == robot.HAND_BASE_LINK
    for name, (lo, hi) in robot.HAND_JOINT_LIMITS.items():
        limit = joints[name].find("limit")
        assert joints[name].get("type") == "revolute"
        assert float(limit.get("lower")) == pytest.approx(lo, abs=1e-9)
        assert float(limit.get("upper")) == pytest.approx(hi, abs=1e-9)
        assert float(limit.get("effort")) > 0 and float(limit.get("velocity")) > 0
    assert joints["bh_j21_joint"].find("mimic").get("joint") == "bh_j11_joint"
    assert joints["bh_j11_joint"].find("mimic") is None
    for proximal, distal in zip(robot.PROXIMAL_JOINTS, robot.DISTAL_JOINTS):
        mimic = joints[distal].find("mimic")
        assert mimic.get("joint") == proximal and float(mimic.get("multiplier")) == pytest.approx(robot.DISTAL_COUPLING)
        assert joints[proximal].find("mimic") is None
    body = load(sim, path)
    index = joint_index(sim, body)
    for name, (lo, hi) in robot.HAND_JOINT_LIMITS.items():
        info = pb.getJointInfo(body, index[name], physicsClientId=sim)
        assert info[2] == pb.JOINT_REVOLUTE and info[8:10] == pytest.approx((lo, hi), abs=1e-6)
    assert math.isclose(robot.PROXIMAL_LIMIT * robot.DISTAL_COUPLING, robot.DISTAL_LIMIT, abs_tol=0.01)


def test_palm_frame(sim):
    body = load(sim, robot.hand_urdf_path())
    pos, rot = link_pose(sim, body, robot.PALM_LINK)
    assert pos == pytest.approx([0.0, 0.0, robot.PALM_OFFSET_FROM_BASE], abs=1e-6)
    assert rot[:, 2] == pytest.approx([0, 0, 1], abs=1e-6)  # out of the palm = hand axis
    assert rot[:, 0] == pytest.approx([0, -1, 0], abs=1e-6)  # toward the finger 1/2 side
    # Open straight fingers point along the palm normal, one finger length past the palm.
    tips = fingertips(sim, body)
    assert tips[:, 2] == pytest.approx([robot.PALM_OFFSET_FROM_BASE + FINGER_REACH] * 3, abs=1e-6)


def test_spread_swings_fingers_1_and_2_around_the_palm_normal(sim):
    body = load(sim, robot.hand_urdf_path())
    z = robot.PALM_OFFSET_FROM_BASE + FINGER_REACH
    x, k, y3 = robot.SPREAD_AXIS_X, robot.KNUCKLE_LENGTH, robot.FINGER3_Y
    set_joints(sim, body, hand_pose(spread=0.0))
    # Spread 0: fingers 1 and 2 side by side at -y, finger 3 alone at +y.
    assert fingertips(sim, body) == pytest.approx(np.array([[-x, -k, z], [x, -k, z], [0, y3, z]]), abs=1e-6)
    set_joints(sim, body, hand_pose(spread=math.pi / 2))
    # Spread pi/2: finger 1 swung out to -x, finger 2 to +x (facing each other), finger 3 unmoved.
    assert fingertips(sim, body) == pytest.approx(np.array([[-x - k, 0, z], [x + k, 0, z], [0, y3, z]]), abs=1e-6)
    set_joints(sim, body, hand_pose(spread=math.pi))
    assert fingertips(sim, body)[:2] == pytest.approx(np.array([[-x, k, z], [x, k, z]]), abs=1e-6)


@pytest.mark.parametrize(
    ("spread", "closing"),
    [
        # Spread 0, two against one along y: fingers 1/2 close toward +y, finger 3 toward -y.
        (0.0, [(0, 1), (0, 1), (0, -1)]),
        # Spread pi/2: fingers 1/2 face each other along x; finger 3 still closes toward -y.
        (math.pi / 2, [(1, 0), (-1, 0), (0, -1)]),
    ],
)
def test_positive_finger_angles_close_toward_the_palm_centre_line(spread, closing, sim):
    closing = np.array(closing, dtype=float)
    body = load(sim, robot.hand_urdf_path())
    set_joints(sim, body, hand_pose(spread=spread))
    open_tips = fingertips(sim, body)
    set_joints(sim, body, hand_pose(spread=spread, proximal=0.8))
    closed = fingertips(sim, body)
    set_joints(
        sim, body, {**hand_pose(spread=spread, proximal=0.8), **{j: robot.DISTAL_LIMIT for j in robot.DISTAL_JOINTS}}
    )
    distal_closed = fingertips(sim, body)
    for finger in range(3):
        moved = closed[finger] - open_tips[finger]
        assert moved[2] < -0.02, finger  # bending toward the palm
        assert moved[:2] @ closing[finger] > 0.08, finger  # ... in the closing direction
        sideways = np.array([-closing[finger][1], closing[finger][0]])
        assert moved[:2] @ sideways == pytest.approx(0.0, abs=1e-6), finger  # ... and only in it
        assert (distal_closed[finger] - closed[finger])[:2] @ closing[finger] > 0.005, finger


def test_proximal_effort_holds_a_1kg_box(sim):
    """Hand pointing down, fingers closed on a 1 kg box by motors limited to the URDF efforts."""
    palm_height = 0.5
    body = load(sim, robot.hand_urdf_path(), basePosition=[0, 0, palm_height + robot.PALM_OFFSET_FROM_BASE])
    pb.resetBasePositionAndOrientation(
        body,
        [0, 0, palm_height + robot.PALM_OFFSET_FROM_BASE],
        pb.getQuaternionFromEuler([math.pi, 0, 0]),
        physicsClientId=sim,
    )
    shape = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=[0.03, 0.03, 0.04], physicsClientId=sim)
    box = pb.createMultiBody(1.0, shape, basePosition=[0, 0, palm_height - 0.06], physicsClientId=sim)
    index = joint_index(sim, body)
    effort = {name: pb.getJointInfo(body, i, physicsClientId=sim)[10] for name, i in index.items()}
    for step in range(480):
        if step == 240:  # fingers closed: now let gravity pull
            pb.setGravity(0, 0, -9.81, physicsClientId=sim)
        for name in robot.SPREAD_JOINTS:
            pb.setJointMotorControl2(
                body, index[name], pb.POSITION_CONTROL, 0.0, force=effort[name], physicsClientId=sim
            )
        for name in robot.PROXIMAL_JOINTS + robot.DISTAL_JOINTS:
            pb.setJointMotorControl2(
                body, index[name], pb.VELOCITY_CONTROL, targetVelocity=1.0, force=effort[name], physicsClientId=sim
            )
        pb.stepSimulation(physicsClientId=sim)
    box_z = pb.getBasePositionAndOrientation(box, physicsClientId=sim)[0][2]
    assert box_z > palm_height - 0.06 - 0.03, "the box slipped out of the hand"


# --- arm and combined robot ------------------------------------------------------------------
@pytest.mark.parametrize("path", (robot.arm_urdf_path(), robot.robot_urdf_path()), ids=lambda p: p.name)
def test_arm_joint_names_and_limits(path, sim):
    body = load(sim, path)
    index = joint_index(sim, body)
    assert movable_joints(sim, body)[:6] == list(robot.ARM_JOINTS)
    expected_deg = [(-180, 180), (-127.5, 127.5), (-142.5, 142.5), (-270, 270), (-122.5, 132.5), (-270, 270)]
    for name, (lo, hi) in zip(robot.ARM_JOINTS, expected_deg):
        assert robot.ARM_JOINT_LIMITS[name] == pytest.approx((math.radians(lo), math.radians(hi)))
        info = pb.getJointInfo(body, index[name], physicsClientId=sim)
        assert info[2] == pb.JOINT_REVOLUTE and info[8:10] == pytest.approx(robot.ARM_JOINT_LIMITS[name], abs=1e-6)
        assert info[10] > 0 and info[11] > 0  # effort, velocity


@pytest.mark.parametrize(
    ("joints", "flange_pos", "flange_z"),
    [
        ({}, (0, 0, 1.045), (0, 0, 1)),  # kinematic zero: straight up
        ({"joint_2": math.pi / 2}, (0.67, 0, 0.375), (1, 0, 0)),
        ({"joint_1": math.pi / 2, "joint_2": math.pi / 2}, (0, 0.67, 0.375), (0, 1, 0)),
        ({"joint_3": math.pi / 2}, (0.38, 0, 0.665), (1, 0, 0)),
        ({"joint_5": math.pi / 2}, (0.07, 0, 0.975), (1, 0, 0)),
        ({"joint_4": 1.0, "joint_6": -0.5}, (0, 0, 1.045), (0, 0, 1)),
    ],
)
def test_arm_forward_kinematics(joints, flange_pos, flange_z, sim):
    assert math.isclose(robot.ARM_ZERO_FLANGE_HEIGHT, 0.375 + 0.290 + 0.310 + 0.070)
    body = load(sim, robot.arm_urdf_path())
    set_joints(sim, body, joints)
    pos, rot = link_pose(sim, body, robot.FLANGE_LINK)
    assert pos == pytest.approx(flange_pos, abs=1e-5)
    assert rot[:, 2] == pytest.approx(flange_z, abs=1e-6)
    if not joints:
        assert rot == pytest.approx(np.eye(3), abs=1e-6)


def test_combined_robot_has_the_hand_on_the_flange(sim):
    body = load(sim, robot.robot_urdf_path())
    movable = movable_joints(sim, body)
    assert len(movable) == 14 and movable[:6] == list(robot.ARM_JOINTS) and set(movable[6:]) == set(robot.HAND_JOINTS)
    mount = ET.parse(robot.robot_urdf_path()).getroot().find(f"joint[@name='{robot.HAND_MOUNT_JOINT}']")
    assert mount.get("type") == "fixed" and mount.find("parent").get("link") == robot.FLANGE_LINK
    assert mount.find("child").get("link") == robot.HAND_BASE_LINK
    set_joints(
        sim, body, {"joint_1": 0.3, "joint_2": 0.7, "joint_3": -0.4, "joint_4": 1.1, "joint_5": 0.9, "joint_6": -2.0}
    )
    set_joints(sim, body, hand_pose(spread=0.6, proximal=1.0))
    flange_pos, flange_rot = link_pose(sim, body, robot.FLANGE_LINK)
    base_pos, base_rot = link_pose(sim, body, robot.HAND_BASE_LINK)
    palm_pos, _ = link_pose(sim, body, robot.PALM_LINK)
    assert base_pos == pytest.approx(flange_pos, abs=1e-5) and base_rot == pytest.approx(flange_rot, abs=1e-5)
    assert palm_pos == pytest.approx(flange_pos + flange_rot[:, 2] * robot.PALM_OFFSET_FROM_BASE, abs=1e-5)
    # The hand on the arm has the same finger kinematics as the hand alone.
    tips_in_flange = (fingertips(sim, body) - flange_pos) @ flange_rot
    hand = load(sim, robot.hand_urdf_path())
    set_joints(sim, hand, hand_pose(spread=0.6, proximal=1.0))
    assert tips_in_flange == pytest.approx(fingertips(sim, hand), abs=1e-5)
