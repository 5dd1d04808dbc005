"""The policy's state-vector layout (torch-free): object positions, end effector, gripper.

A state vector is float32, world frame, metres::

    [obj_0 xyz, obj_1 xyz, ..., obj_{n-1} xyz, end-effector xyz, gripper opening]

With the default ``OBJECT_SLOTS = 3`` objects (red, green, blue, in that order) it has 13
entries. The policy does not know colours: slot ``i`` is just "the i-th object".
"""
from __future__ import annotations

OBJECT_SLOTS = 3
"""Default number of objects in the state (red, green, blue)."""

POS_DIM = 3
"""Entries per position (x, y, z)."""

GRIPPER_DIM = 1
"""Entries for the gripper opening (metres between the fingers)."""

ACTION_DIM = 2
"""An action is an (x, y) table position in metres."""


def state_dim(n_objects: int = OBJECT_SLOTS) -> int:
    """Length of a state vector with ``n_objects`` objects."""
    return POS_DIM * n_objects + POS_DIM + GRIPPER_DIM


def object_slice(i: int) -> slice:
    """Entries of object ``i``'s xyz position."""
    return slice(POS_DIM * i, POS_DIM * (i + 1))


def objects_slice(n_objects: int = OBJECT_SLOTS) -> slice:
    """Entries of all object positions (``n_objects * 3`` values)."""
    return slice(0, POS_DIM * n_objects)


def ee_slice(n_objects: int = OBJECT_SLOTS) -> slice:
    """Entries of the end-effector xyz position."""
    start = POS_DIM * n_objects
    return slice(start, start + POS_DIM)


def gripper_index(n_objects: int = OBJECT_SLOTS) -> int:
    """Index of the gripper opening."""
    return POS_DIM * n_objects + POS_DIM


STATE_DIM = state_dim(OBJECT_SLOTS)
"""Length of the default state vector (13)."""
