"""Perception: CLIP (open_clip) sub-goal detection from camera frames."""
