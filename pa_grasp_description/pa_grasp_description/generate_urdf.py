"""Generate the URDF files of the Barrett BH-280 hand, the Staubli TX60 arm and both together.

    python -m pa_grasp_description.generate_urdf           # (re)write the files in urdf/
    python -m pa_grasp_description.generate_urdf --check   # exit 1 if a file is out of date

The combined robot is assembled from the same link/joint lists as the two parts, so it cannot
drift from them. Geometry is made of boxes and cylinders only (cheap contacts in PyBullet);
inertias are computed from those shapes (mass split by volume, parallel-axis theorem).
Frame conventions are documented in :mod:`pa_grasp_description.robot`.
"""

import argparse
import math
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from pa_grasp_description import robot

HALF_PI = math.pi / 2

COLORS = {
    "bh_dark": (0.18, 0.18, 0.2, 1.0),
    "bh_silver": (0.75, 0.75, 0.78, 1.0),
    "bh_black": (0.08, 0.08, 0.08, 1.0),
    "tx60_yellow": (0.93, 0.76, 0.18, 1.0),
    "tx60_grey": (0.45, 0.45, 0.47, 1.0),
}


@dataclass(frozen=True)
class Shape:
    """A box (size = x, y, z extents) or a cylinder (size = radius, length along its local z)."""

    kind: str
    size: tuple
    xyz: tuple = (0.0, 0.0, 0.0)
    rpy: tuple = (0.0, 0.0, 0.0)

    @property
    def volume(self) -> float:
        if self.kind == "box":
            return self.size[0] * self.size[1] * self.size[2]
        radius, length = self.size
        return math.pi * radius**2 * length

    def own_inertia(self, mass: float) -> list:
        """Inertia tensor about the shape's centre, in the shape's own axes."""
        if self.kind == "box":
            x, y, z = self.size
            d = (y * y + z * z, x * x + z * z, x * x + y * y)
            return _diag([mass * v / 12.0 for v in d])
        radius, length = self.size
        side = mass * (3.0 * radius**2 + length**2) / 12.0
        return _diag([side, side, mass * radius**2 / 2.0])


@dataclass(frozen=True)
class Link:
    name: str
    mass: float
    shapes: tuple = ()  # used for collision, visual and inertia
    color: str = "bh_dark"
    inertia_cube: float = 0.01  # edge of the cube used for the inertia of a link without shapes


@dataclass(frozen=True)
class Joint:
    name: str
    type: str
    parent: str
    child: str
    xyz: tuple
    rpy: tuple = (0.0, 0.0, 0.0)
    axis: tuple | None = None
    limit: tuple | None = None  # (lower, upper, effort [N m], velocity [rad/s])
    mimic: tuple | None = None  # (joint, multiplier)


# --- small 3x3 helpers (no numpy needed) -------------------------------------------------
def _diag(values):
    return [[values[i] if i == j else 0.0 for j in range(3)] for i in range(3)]


def _matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def _transpose(a):
    return [[a[j][i] for j in range(3)] for i in range(3)]


def rpy_matrix(rpy):
    """URDF convention: R = Rz(yaw) Ry(pitch) Rx(roll)."""
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = math.cos(r), math.sin(r), math.cos(p), math.sin(p), math.cos(y), math.sin(y)
    return [
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ]


def link_inertial(link: Link):
    """(centre of mass, 3x3 inertia tensor about it, in link axes) of a link."""
    if not link.shapes:
        return (0.0, 0.0, 0.0), Shape("box", (link.inertia_cube,) * 3).own_inertia(link.mass)
    total_volume = sum(s.volume for s in link.shapes)
    masses = [link.mass * s.volume / total_volume for s in link.shapes]
    com = tuple(sum(m * s.xyz[i] for m, s in zip(masses, link.shapes)) / link.mass for i in range(3))
    inertia = [[0.0] * 3 for _ in range(3)]
    for m, s in zip(masses, link.shapes):
        rot = rpy_matrix(s.rpy)
        own = _matmul(_matmul(rot, s.own_inertia(m)), _transpose(rot))
        d = [s.xyz[i] - com[i] for i in range(3)]
        d2 = sum(v * v for v in d)
        for i in range(3):
            for j in range(3):
                inertia[i][j] += own[i][j] + m * ((d2 if i == j else 0.0) - d[i] * d[j])
    return com, inertia


# --- the hand ----------------------------------------------------------------------------
SPREAD_EFFORT, SPREAD_VELOCITY = 2.0, 3.0
PROXIMAL_EFFORT, PROXIMAL_VELOCITY = 5.0, 2.5
DISTAL_EFFORT, DISTAL_VELOCITY = 2.0, 2.5
PROXIMAL_THICKNESS = 0.018  # along the closing direction
DISTAL_THICKNESS = 0.012
KNUCKLE_BLOCK = (0.024, 0.024, 0.03)  # housing of a proximal joint, just under the palm surface


def hand_parts():
    """Links and joints of the BH-280, root ``bh_base_link``."""
    z_palm = robot.PALM_OFFSET_FROM_BASE
    knuckle_rise = z_palm - robot.SPREAD_AXIS_Z  # spread-joint height -> palm surface
    block_z = -KNUCKLE_BLOCK[2] / 2  # the block hangs under the proximal joint axis
    proximal = Shape(
        "box", (robot.FINGER_WIDTH, PROXIMAL_THICKNESS, robot.PROXIMAL_LENGTH), (0, 0, robot.PROXIMAL_LENGTH / 2)
    )
    distal = Shape("box", (robot.FINGER_WIDTH, DISTAL_THICKNESS, robot.DISTAL_LENGTH), (0, 0, robot.DISTAL_LENGTH / 2))
    links = [
        Link(
            robot.HAND_BASE_LINK,
            0.849,
            (
                Shape("cylinder", (robot.PALM_RADIUS, z_palm), (0, 0, z_palm / 2)),
                Shape("box", KNUCKLE_BLOCK, (0, robot.FINGER3_Y, z_palm + block_z)),  # finger 3 knuckle
            ),
            "bh_dark",
        ),
        Link(robot.PALM_LINK, 0.001),
    ]
    joints = [Joint("bh_palm_joint", "fixed", robot.HAND_BASE_LINK, robot.PALM_LINK, (0, 0, z_palm), (0, 0, -HALF_PI))]
    spread_limit = (0.0, robot.SPREAD_LIMIT, SPREAD_EFFORT, SPREAD_VELOCITY)
    proximal_limit = (0.0, robot.PROXIMAL_LIMIT, PROXIMAL_EFFORT, PROXIMAL_VELOCITY)
    distal_limit = (0.0, robot.DISTAL_LIMIT, DISTAL_EFFORT, DISTAL_VELOCITY)
    for finger in (1, 2, 3):
        knuckle, prox, dist = (f"bh_finger_{finger}{k}_link" for k in (1, 2, 3))
        if finger == 3:
            # Fixed finger on the +y side; closing (toward -y) = positive rotation about +x.
            prox_parent, prox_xyz, close_axis = robot.HAND_BASE_LINK, (0, robot.FINGER3_Y, z_palm), (1, 0, 0)
        else:
            # Fingers 1/2: spread axis at x = -/+0.025, knuckle reaching toward -y at spread 0,
            # closing toward +y (positive rotation about -x). Finger 1 spreads about -z and
            # finger 2 about +z, so at spread pi/2 they face each other along x.
            sign = -1.0 if finger == 1 else 1.0
            links.append(
                Link(knuckle, 0.04, (Shape("box", KNUCKLE_BLOCK, (0, -robot.KNUCKLE_LENGTH, knuckle_rise + block_z)),))
            )
            joints.append(
                Joint(
                    f"bh_j{finger}1_joint",
                    "revolute",
                    robot.HAND_BASE_LINK,
                    knuckle,
                    (sign * robot.SPREAD_AXIS_X, 0, robot.SPREAD_AXIS_Z),
                    axis=(0, 0, sign),
                    limit=spread_limit,
                    mimic=("bh_j11_joint", 1.0) if finger == 2 else None,
                )
            )
            prox_parent, prox_xyz, close_axis = knuckle, (0, -robot.KNUCKLE_LENGTH, knuckle_rise), (-1, 0, 0)
        links.append(Link(prox, 0.06, (proximal,), "bh_silver"))
        links.append(Link(dist, 0.03, (distal,), "bh_black"))
        joints.append(
            Joint(
                f"bh_j{finger}2_joint", "revolute", prox_parent, prox, prox_xyz, axis=close_axis, limit=proximal_limit
            )
        )
        joints.append(
            Joint(
                f"bh_j{finger}3_joint",
                "revolute",
                prox,
                dist,
                (0, 0, robot.PROXIMAL_LENGTH),
                axis=close_axis,
                limit=distal_limit,
                mimic=(f"bh_j{finger}2_joint", robot.DISTAL_COUPLING),
            )
        )
    return links, joints


# --- the arm -----------------------------------------------------------------------------
ARM_EFFORTS = (150.0, 150.0, 80.0, 30.0, 30.0, 15.0)  # N m, rough
ARM_VELOCITIES = (7.0, 6.5, 8.5, 17.0, 18.0, 22.0)  # rad/s, rough
ALONG_Y = (HALF_PI, 0.0, 0.0)  # rpy turning a cylinder's axis onto y


def arm_parts():
    """Links and joints of the TX60, root ``base_link``; all joints 0 = arm straight up."""
    j4_along_forearm = 0.10  # J3 -> J4 (forearm roll), J4 -> J5 is the rest of J3_TO_J5
    j6_along_wrist = 0.05  # J5 -> J6, J6 -> flange is the rest of J5_TO_FLANGE
    j5_from_j4 = robot.J3_TO_J5 - j4_along_forearm
    flange_from_j6 = robot.J5_TO_FLANGE - j6_along_wrist
    base_h = 0.20
    shoulder_h = robot.BASE_TO_J2 - base_h
    links = [
        Link(robot.BASE_LINK, 14.0, (Shape("cylinder", (0.10, base_h), (0, 0, base_h / 2)),), "tx60_grey"),
        Link(
            "link_1",
            12.0,
            (
                Shape("cylinder", (0.085, shoulder_h), (0, 0, base_h + shoulder_h / 2)),
                Shape("cylinder", (0.08, 0.18), (0, 0, robot.BASE_TO_J2), ALONG_Y),
            ),
            "tx60_yellow",
        ),
        Link(
            "link_2",
            10.0,
            (
                Shape("box", (0.09, 0.12, robot.J2_TO_J3), (0, 0, robot.J2_TO_J3 / 2)),
                Shape("cylinder", (0.065, 0.15), (0, 0, robot.J2_TO_J3), ALONG_Y),
            ),
            "tx60_yellow",
        ),
        Link(
            "link_3", 6.0, (Shape("cylinder", (0.06, j4_along_forearm), (0, 0, j4_along_forearm / 2)),), "tx60_yellow"
        ),
        Link(
            "link_4",
            5.0,
            (
                Shape("cylinder", (0.045, j5_from_j4 - 0.04), (0, 0, (j5_from_j4 - 0.04) / 2)),
                Shape("cylinder", (0.045, 0.10), (0, 0, j5_from_j4), ALONG_Y),
            ),
            "tx60_yellow",
        ),
        Link("link_5", 2.5, (Shape("cylinder", (0.035, j6_along_wrist), (0, 0, j6_along_wrist / 2)),), "tx60_yellow"),
        Link("link_6", 0.5, (Shape("cylinder", (0.032, flange_from_j6), (0, 0, flange_from_j6 / 2)),), "tx60_grey"),
        Link(robot.FLANGE_LINK, 0.001),
    ]
    offsets = (
        (0, 0, 0),
        (0, 0, robot.BASE_TO_J2),
        (0, 0, robot.J2_TO_J3),
        (0, 0, j4_along_forearm),
        (0, 0, j5_from_j4),
    )
    offsets += ((0, 0, j6_along_wrist),)
    axes = ((0, 0, 1), (0, 1, 0), (0, 1, 0), (0, 0, 1), (0, 1, 0), (0, 0, 1))
    joints = []
    for i, name in enumerate(robot.ARM_JOINTS):
        lo, hi = robot.ARM_JOINT_LIMITS[name]
        parent = robot.ARM_LINKS[i]
        joints.append(
            Joint(
                name,
                "revolute",
                parent,
                robot.ARM_LINKS[i + 1],
                offsets[i],
                axis=axes[i],
                limit=(lo, hi, ARM_EFFORTS[i], ARM_VELOCITIES[i]),
            )
        )
    joints.append(Joint("flange_joint", "fixed", "link_6", robot.FLANGE_LINK, (0, 0, flange_from_j6)))
    return links, joints


def robot_parts():
    """The TX60 with the BH-280 on its flange (hand axis = flange +z)."""
    arm_links, arm_joints = arm_parts()
    hand_links, hand_joints = hand_parts()
    mount = Joint(robot.HAND_MOUNT_JOINT, "fixed", robot.FLANGE_LINK, robot.HAND_BASE_LINK, (0, 0, 0))
    return arm_links + hand_links, arm_joints + [mount] + hand_joints


# --- XML ---------------------------------------------------------------------------------
def _num(value: float) -> str:
    value = float(value)
    return "0" if abs(value) < 1e-12 else f"{value:.15g}"


def _vec(values) -> str:
    return " ".join(_num(v) for v in values)


def _geometry(parent, shape: Shape):
    ET.SubElement(parent, "origin", xyz=_vec(shape.xyz), rpy=_vec(shape.rpy))
    geometry = ET.SubElement(parent, "geometry")
    if shape.kind == "box":
        ET.SubElement(geometry, "box", size=_vec(shape.size))
    else:
        ET.SubElement(geometry, "cylinder", radius=_num(shape.size[0]), length=_num(shape.size[1]))


def _link_xml(root, link: Link):
    element = ET.SubElement(root, "link", name=link.name)
    com, inertia = link_inertial(link)
    inertial = ET.SubElement(element, "inertial")
    ET.SubElement(inertial, "origin", xyz=_vec(com), rpy="0 0 0")
    ET.SubElement(inertial, "mass", value=_num(link.mass))
    names = {"ixx": (0, 0), "ixy": (0, 1), "ixz": (0, 2), "iyy": (1, 1), "iyz": (1, 2), "izz": (2, 2)}
    ET.SubElement(inertial, "inertia", {k: _num(inertia[i][j]) for k, (i, j) in names.items()})
    for shape in link.shapes:
        visual = ET.SubElement(element, "visual")
        _geometry(visual, shape)
        material = ET.SubElement(visual, "material", name=link.color)
        ET.SubElement(material, "color", rgba=_vec(COLORS[link.color]))
    for shape in link.shapes:
        _geometry(ET.SubElement(element, "collision"), shape)


def _joint_xml(root, joint: Joint):
    element = ET.SubElement(root, "joint", name=joint.name, type=joint.type)
    ET.SubElement(element, "parent", link=joint.parent)
    ET.SubElement(element, "child", link=joint.child)
    ET.SubElement(element, "origin", xyz=_vec(joint.xyz), rpy=_vec(joint.rpy))
    if joint.axis is not None:
        ET.SubElement(element, "axis", xyz=_vec(joint.axis))
    if joint.limit is not None:
        lo, hi, effort, velocity = joint.limit
        ET.SubElement(element, "limit", lower=_num(lo), upper=_num(hi), effort=_num(effort), velocity=_num(velocity))
    if joint.mimic is not None:
        other, multiplier = joint.mimic
        attrs = {"joint": other}
        if multiplier != 1.0:
            attrs["multiplier"] = _num(multiplier)
        ET.SubElement(element, "mimic", attrs)


def urdf_text(name: str, links, joints) -> str:
    root = ET.Element("robot", name=name)
    root.append(ET.Comment(" Generated by `python -m pa_grasp_description.generate_urdf`: do not edit by hand. "))
    for link in links:
        _link_xml(root, link)
    for joint in joints:
        _joint_xml(root, joint)
    ET.indent(root, space="  ")
    return '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def generated_files() -> dict:
    """File name -> URDF text, for the three robot descriptions."""
    return {
        robot.HAND_URDF_NAME: urdf_text("bh280", *hand_parts()),
        robot.ARM_URDF_NAME: urdf_text("tx60", *arm_parts()),
        robot.ROBOT_URDF_NAME: urdf_text("tx60_bh280", *robot_parts()),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the files are up to date")
    parser.add_argument("--out", type=Path, default=robot.URDF_DIR, help="output directory (default: package urdf/)")
    args = parser.parse_args(argv)
    stale = []
    for file_name, text in generated_files().items():
        path = args.out / file_name
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(("out of date: " if args.check else "wrote ") + str(path))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
