"""The one adapter between Ψ0's 36-D action/state and the G1 (pure NumPy, no rclpy).

Every part of the stack that turns robot readings into a Ψ0 state, or a Ψ0 action into motor targets and a
whole-body command, goes through this module: the policy node's observation, the bag, teleoperation and
dataset readers, the bridge, the episode harness. Changing what a dimension means is a change here.

Action (36-D, absolute):
    0:14   Dex3 joints, left 7 then right 7 (each hand in its Dex3 motor order)   -> hands
    14:28  arm joints, left 7 then right 7 (body motors 15..28)                   -> arm position targets
    28:31  torso roll, pitch, yaw                                                  -> whole-body controller
    31     base height (m, NOMINAL_BASE_HEIGHT nominal)                            -> whole-body controller
    32:35  vx, vy, yaw rate                                                        -> whole-body controller
    35     target yaw                                                              -> whole-body controller
Dims 28–35 are commands (the operator's or the policy's), never measurements.
State (36-D): hands 14 and arms 14 (measured), the torso roll/pitch/yaw and base height commanded at the step
before (4; NOMINAL before any command), zero padding (4) — the official Ψ0 layout.

Arrays may carry leading batch dimensions (a whole episode at once): (..., 14) in, (..., 36) out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np

from psi0_core.robot import ARM_MOTORS, G1, NOMINAL_BASE_HEIGHT, load_g1

ACTION_DIM = 36
STATE_DIM = 36
HANDS = slice(0, 14)  # Dex3 joints, left 7 then right 7 (rad)
ARMS = slice(14, 28)  # arm joints, left 7 then right 7 (body motors 15..28)
TORSO_RPY = slice(28, 31)  # torso roll, pitch, yaw -> whole-body controller
BASE_HEIGHT = 31  # m -> whole-body controller
VELOCITY = slice(32, 35)  # vx, vy, yaw rate -> whole-body controller
TARGET_YAW = 35
WBC = slice(28, 36)  # the whole-body controller's command, in WBC_FIELDS order
WBC_FIELDS = ("torso_roll", "torso_pitch", "torso_yaw", "base_height", "vx", "vy", "yaw_rate", "target_yaw")
STATE_COMMANDED = slice(28, 32)  # state: torso roll, pitch, yaw, base height commanded at the step before
STATE_PAD = slice(32, 36)
STATE_EXTRA_NAMES = ("torso_roll", "torso_pitch", "torso_yaw", "base_height", "pad0", "pad1", "pad2", "pad3")


@dataclass(frozen=True)
class ActionParts:
    """A 36-D action split by destination (arrays keep any leading batch dimensions)."""

    hands: np.ndarray  # (..., 14) Dex3 targets, left 7 then right 7
    arms: np.ndarray  # (..., 14) targets of body motors 15..28
    wbc: np.ndarray  # (..., 8) whole-body command in WBC_FIELDS order


class G1Adapter:
    """Ψ0 36-D action/state ⇄ the G1's joints, motors and whole-body command, for one robot description."""

    def __init__(self, robot: G1 | None = None) -> None:
        self.robot = robot or load_g1()

    # ---- names -------------------------------------------------------------------------------------
    @cached_property
    def hand_names(self) -> tuple[str, ...]:
        return self.robot.hands.names

    @cached_property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(self.robot.body.names[m] for m in ARM_MOTORS)

    @cached_property
    def action_names(self) -> tuple[str, ...]:
        """The 36 column names of an action chunk (ActionChunk.names)."""
        names = (*self.hand_names, *self.arm_names, *WBC_FIELDS)
        assert len(names) == ACTION_DIM
        return names

    @cached_property
    def state_names(self) -> tuple[str, ...]:
        names = (*self.hand_names, *self.arm_names, *STATE_EXTRA_NAMES)
        assert len(names) == STATE_DIM
        return names

    @property
    def state_joint_names(self) -> tuple[str, ...]:
        """The joints a state is read from (hands then arms)."""
        return self.hand_names + self.arm_names

    # ---- state -------------------------------------------------------------------------------------
    @staticmethod
    def default_commanded() -> np.ndarray:
        """The commanded torso roll, pitch, yaw and base height before any command: (4,)."""
        return np.array([0.0, 0.0, 0.0, NOMINAL_BASE_HEIGHT])

    @staticmethod
    def commanded(action: np.ndarray) -> np.ndarray:
        """The part of an action (..., 36) that the next step's state reports as its previous command: (..., 4)."""
        a = np.asarray(action, dtype=np.float64)
        return np.concatenate([a[..., TORSO_RPY], a[..., BASE_HEIGHT:BASE_HEIGHT + 1]], axis=-1)

    @staticmethod
    def state(hands_q: np.ndarray, arms_q: np.ndarray, commanded: np.ndarray) -> np.ndarray:
        """(..., 14) hands, (..., 14) arms, (..., 4) previously commanded torso rpy + height → (..., 36) state."""
        h, a, c = (np.asarray(x, dtype=np.float64) for x in (hands_q, arms_q, commanded))
        if h.shape[-1] != 14 or a.shape[-1] != 14 or c.shape[-1] != 4:
            raise ValueError(f"state parts must be (..., 14), (..., 14), (..., 4); got {h.shape}, {a.shape}, {c.shape}")
        pad = np.zeros((*np.broadcast_shapes(h.shape[:-1], a.shape[:-1], c.shape[:-1]), 4))
        h, a, c = (np.broadcast_to(x, (*pad.shape[:-1], x.shape[-1])) for x in (h, a, c))
        return np.concatenate([h, a, c, pad], axis=-1)

    def missing_joints(self, joints: Mapping[str, float]) -> list[str]:
        return [n for n in self.state_joint_names if n not in joints]

    def state_from_joints(self, joints: Mapping[str, float], commanded: np.ndarray | None = None) -> np.ndarray:
        """The state from joint positions by name (e.g. a JointState); KeyError names the missing joints."""
        missing = self.missing_joints(joints)
        if missing:
            raise KeyError(f"joint_states lacks {missing[:3]}" + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""))
        return self.state([joints[n] for n in self.hand_names], [joints[n] for n in self.arm_names],
                          self.default_commanded() if commanded is None else commanded)

    # ---- action ------------------------------------------------------------------------------------
    def default_action(self, base_height: float = NOMINAL_BASE_HEIGHT) -> np.ndarray:
        """The action that holds the default pose: (36,) float64."""
        a = np.zeros(ACTION_DIM)
        a[HANDS] = self.robot.hands.default
        a[ARMS] = self.robot.body.default[ARM_MOTORS]
        a[BASE_HEIGHT] = base_height
        return a

    @staticmethod
    def split(action: np.ndarray) -> ActionParts:
        a = np.asarray(action, dtype=np.float64)
        if a.shape[-1] != ACTION_DIM:
            raise ValueError(f"an action has {ACTION_DIM} values, got shape {a.shape}")
        return ActionParts(hands=a[..., HANDS], arms=a[..., ARMS], wbc=a[..., WBC])

    def body_targets(self, action: np.ndarray, lower_body: np.ndarray) -> np.ndarray:
        """Position targets of the 29 body motors: the whole-body controller's lower-body targets (motors 0..14),
        the action's arm joints (15..28); (29,)."""
        q = np.asarray(self.robot.body.default, dtype=np.float64).copy()
        q[: len(lower_body)] = lower_body
        q[ARM_MOTORS] = self.split(action).arms
        return q

    # ---- action chunks -----------------------------------------------------------------------------
    def chunk_rows(self, names: Sequence[str], horizon: int, dim: int, data: Sequence[float] | np.ndarray) -> np.ndarray:
        """An ActionChunk's fields → (H, 36) actions; columns the chunk does not name hold the default pose.

        ValueError on columns outside the Ψ0 layout or a data size that is not horizon × dim."""
        names = list(names)
        cols = [self.action_names.index(n) if n in self.action_names else -1 for n in names]
        if -1 in cols or dim != len(cols):
            bad = [n for n, c in zip(names, cols, strict=True) if c == -1]
            raise ValueError(f"chunk columns outside the Ψ0 layout: {bad[:3]}" if bad else
                             f"chunk dim {dim} != {len(cols)} names")
        arr = np.asarray(data, dtype=np.float64)
        if arr.size != horizon * dim:
            raise ValueError(f"chunk holds {arr.size} values, expected horizon × dim = {horizon * dim}")
        rows = np.tile(self.default_action(), (horizon, 1))
        rows[:, cols] = arr.reshape(horizon, dim)
        return rows

    def chunk_fields(self, actions: np.ndarray) -> dict[str, object]:
        """(H, 36) actions → the ActionChunk fields names, horizon, dim, data (float32, row-major)."""
        a = np.asarray(actions)
        if a.ndim != 2 or a.shape[1] != ACTION_DIM:
            raise ValueError(f"chunk actions must be (H, {ACTION_DIM}), got {a.shape}")
        return {"names": list(self.action_names), "horizon": int(a.shape[0]), "dim": ACTION_DIM,
                "data": a.astype(np.float32).ravel().tolist()}

    def action_from_targets(self, names: Sequence[str], positions: Sequence[float]) -> np.ndarray:
        """A teleoperation target (JointState named like the action columns) → (36,); unnamed columns keep the
        default pose, names outside the layout are ignored."""
        a = self.default_action()
        index = {n: i for i, n in enumerate(self.action_names)}
        for n, q in zip(names, positions, strict=False):
            if n in index:
                a[index[n]] = q
        return a


@cache
def default_adapter() -> G1Adapter:
    """The adapter of the default robot description (psi0_core's config/robot/g1.yaml)."""
    return G1Adapter(load_g1())


def action_names(robot: G1 | None = None) -> list[str]:
    """The 36 column names of a Ψ0 action chunk (ActionChunk.names)."""
    return list((G1Adapter(robot) if robot is not None else default_adapter()).action_names)


def default_action(robot: G1 | None = None, base_height: float = NOMINAL_BASE_HEIGHT) -> np.ndarray:
    """The action that holds the default pose: (36,) float64."""
    return (G1Adapter(robot) if robot is not None else default_adapter()).default_action(base_height)
