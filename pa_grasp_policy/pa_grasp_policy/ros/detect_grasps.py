"""policy_node's `detect_grasps` service (pa_grasp_interfaces/srv/DetectGrasps.srv): scored grasp
candidates on a fresh depth image, nothing executed (ROS glue around GraspPlanner.candidates).

The candidates are also drawn in RViz on `/pa_grasp/grasp_candidates`: one arrow per candidate
along its approach, green for the best score to red for the worst.
"""

from __future__ import annotations

import torch
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from pa_grasp_interfaces.msg import GraspCandidate
from pa_grasp_interfaces.srv import DetectGrasps
from pa_grasp_policy.planner.proposal import ProposalError, make_proposal
from pa_grasp_policy.ros.goal_context import GoalAbortedError
from pa_grasp_policy.ros.policy_msgs import to_grasp_proposal_msg, to_roi_msg

DEFAULT_CANDIDATES = 5
MAX_CANDIDATES = 32
CANDIDATES_TOPIC = "pa_grasp/grasp_candidates"


class DetectGraspsService:
    def __init__(self, node, callback_group):
        self._node = node
        self._generator = torch.Generator().manual_seed(node.config.seed + 1)
        self._markers = node.create_publisher(MarkerArray, CANDIDATES_TOPIC, 1)
        self._service = node.create_service(
            DetectGrasps, "detect_grasps", self._on_request, callback_group=callback_group
        )

    def destroy(self) -> None:
        self._node.destroy_service(self._service)

    def _on_request(self, request: DetectGrasps.Request, response: DetectGrasps.Response):
        node, cfg = self._node, self._node.config
        wanted = int(request.max_candidates) or DEFAULT_CANDIDATES
        try:
            if wanted > MAX_CANDIDATES:
                raise GoalAbortedError(f"max_candidates is at most {MAX_CANDIDATES}, got {wanted}")
            view = node.usable_view(node.get_clock().now().nanoseconds, request, [])
            frame = view.frame
            with node.planner_lock:
                found = node.planner.candidates(
                    frame.depth,
                    frame.intrinsics,
                    view.T_table_camera,
                    wanted,
                    start_box=view.start_box,
                    generator=self._generator,
                    max_zoom_steps=cfg.default_max_zoom_steps or None,
                )
        except GoalAbortedError as exc:
            response.success, response.message = False, str(exc).replace("; nothing was executed", "")
            return response
        except Exception as exc:  # never let one request take the node down
            response.success, response.message = False, f"internal error: {type(exc).__name__}: {exc}"
            node.get_logger().error(f"detect_grasps: {response.message}")
            return response
        size = (frame.intrinsics.width, frame.intrinsics.height)
        base_header = Header(stamp=frame.header.stamp, frame_id=cfg.base_frame)
        proposals, skipped = [], []
        for grasp, score in zip(found.grasps, found.scores, strict=True):
            try:
                proposal = make_proposal(
                    frame.depth,
                    frame.intrinsics,
                    view.T_base_camera,
                    grasp.uv,
                    grasp.rpy,
                    grasp.hand_joints,
                    cfg.grasp_offset_m,
                    grasp.zoom_steps,
                    grasp.boxes,
                )
            except ProposalError as exc:  # e.g. no depth at its pixel: it cannot be placed in 3D
                skipped.append(str(exc))
                continue
            proposals.append(proposal)
            response.candidates.append(
                GraspCandidate(
                    proposal=to_grasp_proposal_msg(proposal, frame.header, base_header),
                    score=float(score),
                    zoom_boxes=[to_roi_msg(b, *size) for b in grasp.boxes],
                )
            )
        response.score_kind = found.score_kind
        response.success = bool(response.candidates)
        response.message = (
            f"{len(skipped)} candidate(s) could not be placed in 3D: {'; '.join(skipped)}" if skipped else ""
        )
        self._markers.publish(candidate_markers(proposals, base_header))
        return response


def candidate_markers(proposals, base_header: Header) -> MarkerArray:
    """An arrow per candidate along its approach to the palm, best (first) green, last red."""
    markers = [Marker(header=base_header, ns="pa_grasp_candidates", action=Marker.DELETEALL)]
    for i, proposal in enumerate(proposals):
        shade = i / max(len(proposals) - 1, 1)
        m = Marker(header=base_header, ns="pa_grasp_candidates", id=i, type=Marker.ARROW, action=Marker.ADD)
        m.pose.orientation.w = 1.0
        m.color = ColorRGBA(r=float(shade), g=float(1.0 - shade), b=0.1, a=1.0)
        palm = proposal.T_base_palm[:3, 3]
        start = palm - 0.06 * proposal.T_base_palm[:3, 2]
        m.points = [to_point(start), to_point(palm)]
        m.scale.x, m.scale.y, m.scale.z = 0.006, 0.012, 0.015
        markers.append(m)
    return MarkerArray(markers=markers)


def to_point(xyz) -> Point:
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))
