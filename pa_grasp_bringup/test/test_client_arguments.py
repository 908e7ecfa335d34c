"""pa-grasp-client refuses values its goal message cannot carry or its waits cannot use, with
argparse's clear exit 2, before any ROS node exists (the uint32 setters would otherwise fail
deep inside rclpy with a SystemError)."""

import pytest

from pa_grasp_bringup.client import parse_args


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--max-zoom-steps", "-1"], "--max-zoom-steps: must be a whole number from 0 to 4294967295, got -1"),
        (["--max-zoom-steps", str(2**32)], "--max-zoom-steps: must be a whole number"),
        (["--roi", "-1", "0", "10", "10"], "--roi: must be a whole number"),
        (["--timeout", "0"], "--timeout: must be a positive number of seconds"),
        (["--server-timeout", "inf"], "--server-timeout: must be a positive number of seconds"),
        (["--cancel-after", "nan"], "--cancel-after: must be a number of seconds >= 0"),
        (["--attempts", "0"], "--attempts and --goals must be >= 1"),
    ],
)
def test_values_a_goal_cannot_carry_are_refused(capsys, argv, message):
    with pytest.raises(SystemExit) as stopped:
        parse_args(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_the_limits_themselves_are_accepted():
    args = parse_args(["--max-zoom-steps", str(2**32 - 1), "--roi", "0", "0", "160", "160", "--cancel-after", "0"])
    assert args.max_zoom_steps == 2**32 - 1 and args.roi == [0, 0, 160, 160] and args.cancel_after == 0.0
