"""The world: table, arm and three cubes in one physics client, plus what can be read off it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.bullet import Bullet, steps_for
from sim.cameras import VisualConfig
from sim.external_arm import EXTERNAL_ARMS, ExternalArm
from sim.objects import COLORS, CUBE_MASS, CUBE_SIZE, RGBA, Workspace, sample_positions
from sim.predicates import compute_predicates
from sim.robot import Panda
from sim.scenery import dress, dress_cubes

FOOTPRINT_MARGIN = 0.012
"""How far outside a cube's edge a pick or place still counts as "on" that cube (metres)."""
GRASP_ABOVE_CENTER = 0.008
"""Fingertips close this far above a cube's centre, so they stay clear of the cube below
when it is placed on a stack (metres)."""
RELEASE_GAP = 0.004
"""Clearance between a placed cube and its support at release (metres)."""
PLACE_SETTLE_S = 20 / 240
"""Simulated seconds the world runs after a place, for the released cube to settle."""


@dataclass(frozen=True)
class Scene:
    """True state read off the simulator (for the expert, predicates and evaluation)."""

    positions: dict[str, np.ndarray]
    held: str | None
    predicates: dict[str, bool]

    def below(self, x: str) -> str | None:
        """The cube ``x`` rests on, if any."""
        return next((y for y in COLORS if y != x and self.predicates[f"on_top({x},{y})"]), None)

    def above(self, y: str) -> str | None:
        """The cube resting on ``y``, if any."""
        return next((x for x in COLORS if x != y and self.predicates[f"on_top({x},{y})"]), None)

    def top_of_stack(self, c: str) -> str:
        """The highest cube of the stack that contains ``c``."""
        while (up := self.above(c)) is not None:
            c = up
        return c


class World:
    """Builds the scene once, then resets it from a snapshot (deterministic per seed)."""

    def __init__(self, visual: VisualConfig, workspace: Workspace, egl: bool = False) -> None:
        if visual.robot != "panda" and visual.robot not in EXTERNAL_ARMS:
            raise ValueError(f"unknown robot {visual.robot!r}; choose panda or "
                             + ", ".join(EXTERNAL_ARMS))
        self.visual = visual
        self.workspace = workspace
        self.external: ExternalArm | None = None
        """The arm drawn in place of the Panda (demo videos), or None."""
        self.cube_size = CUBE_SIZE * visual.cube_size_scale
        self._background: list[tuple[np.ndarray, np.ndarray]] | None = None
        """Each camera's (RGB, depth) image of the table alone (TinyRenderer only)."""
        self.bullet = Bullet(egl=egl)
        self.bullet.set_light(visual.light_direction, visual.lighting)
        self.robot = self._build(np.array([[0.5, -0.3 + 0.1 * i, self.cube_size / 2]
                                           for i in range(len(COLORS))]))

    def _build(self, positions: np.ndarray) -> Panda:
        """Create table, arm and cubes in an empty simulation."""
        self.bullet.clear()
        self.bullet.create_box("table", (0.55, 0.6, 0.02), (0.35, 0.0, -0.02),
                               self.visual.table_rgba, mass=0.0)
        self._set_background(("table", *dress(self.bullet, self.visual.scenery)))
        robot = Panda(self.bullet, low_poly=self.visual.low_poly)
        for link, rgba in enumerate(self.visual.robot_colors, start=-1):
            self.bullet.set_color(robot.name, rgba, link=link)
        half = self.cube_size / 2
        for c, pos in zip(COLORS, positions):
            self.bullet.create_box(c, (half, half, half), pos, RGBA[c], mass=CUBE_MASS,
                                   spinning=0.01)
        robot.reset()
        if self.visual.robot in EXTERNAL_ARMS:  # the Panda acts unseen; another arm is drawn
            self.bullet.hide(robot.name)  # (added last: the physics bodies keep their order)
            self.external = EXTERNAL_ARMS[self.visual.robot](self.bullet, self.visual.arm_look)
        return robot

    def reset(self, rng: np.random.Generator) -> None:
        """Rebuild the scene with the cubes at random non-overlapping positions.

        Cubes start at rest height and no physics step runs before the first observation,
        so a reset is exact whatever the client did before.
        """
        positions = sample_positions(rng, self.workspace, cube_size=self.cube_size)
        self.robot = self._build(positions)
        if self.visual.shade_jitter > 0:
            for c in COLORS:
                shade = np.clip(np.array(RGBA[c][:3]) + rng.uniform(
                    -self.visual.shade_jitter, self.visual.shade_jitter, 3), 0, 1)
                self.bullet.set_color(c, (*shade.tolist(), 1.0))
        dress_cubes(self.bullet, self.visual.scenery, COLORS, RGBA, rng)
        self.bullet.refresh_contacts()

    # ------------------------------------------------------------------ reading
    def positions(self) -> dict[str, np.ndarray]:
        """Cube centres by colour."""
        return {c: self.bullet.pose(c)[0] for c in COLORS}

    def scene(self) -> Scene:
        """True state: positions, held cube, predicates."""
        preds = compute_predicates(self.bullet, self.robot, self.cube_size)
        held = next((c for c in COLORS if preds[f"grasping({c})"]), None)
        return Scene(self.positions(), held, preds)

    def state_vector(self) -> np.ndarray:
        """(13,) float32: red, green, blue centres, grasp point, finger opening."""
        pos = self.positions()
        parts = [pos[c] for c in COLORS] + [self.robot.ee_position(), [self.robot.finger_opening()]]
        return np.concatenate(parts).astype(np.float32)

    def render(self) -> np.ndarray:
        """(n_cams, H, W, 3) uint8 images from the fixed cameras."""
        self.pose_external()
        return self.render_as_posed()

    def pose_external(self) -> None:
        """Put the arm drawn in place of the Panda (if any) on the Panda's grasp point."""
        if self.external is not None:
            self.external.follow(self.robot.ee_position(), self.robot.finger_opening())

    def render_as_posed(self) -> np.ndarray:
        """The cameras' images of the bodies as they are (no re-posing of a drawn arm)."""
        size = self.visual.image_size
        if self._background is None:
            return np.stack([self.bullet.render(v, size) for v in self.visual.cameras])
        images = []
        for view, (bg_rgb, bg_depth) in zip(self.visual.cameras, self._background):
            rgb, depth = self.bullet.render_rgbd(view, size)  # the moving bodies only
            images.append(np.where((depth < bg_depth)[..., None], rgb, bg_rgb))  # (H, W, 3)
        return np.stack(images)

    def cube_visibility(self, camera: int = 0, size: int = 64) -> np.ndarray:
        """(3,) how much of each cube (red, green, blue) ``camera`` sees: its pixels in a
        segmentation render over the area of one cube face seen square on at its distance
        (1 to ~1.8 unoccluded, as a side and the top show; 0 hidden). Arms and other cubes
        occlude; the cached table and scenery do not (they are not drawn then)."""
        view = self.visual.cameras[camera]
        self.pose_external()
        seen = self.bullet.visible_pixels(view, size, COLORS)
        points = np.stack([self.bullet.pose(c)[0] for c in COLORS])
        depth = (points - np.asarray(view.eye)) @ _unit(np.subtract(view.target, view.eye))
        edge = self.cube_size * size / (2 * depth * np.tan(np.radians(view.fov_deg) / 2))
        return seen / np.maximum(edge ** 2, 1e-9)

    def _set_background(self, static: tuple[str, ...] = ("table",)) -> None:
        """Draw the table (and the ``static`` scenery) once per camera, then hide it: each
        render draws only the bodies that move and takes the table's pixels wherever they are
        nearer (z-buffer order, as a full render would; TinyRenderer has no anti-aliasing and
        shadows are off, so the images are identical: tests/sim/test_render.py). The table was
        half of every render.
        The scene holds only the static bodies when this runs; their look never changes in a
        World. With shadows on, the moving bodies shade the table: every render is full."""
        lit = self.visual.lighting
        if not self.bullet.tiny_renderer or (lit is not None and lit.shadow):
            return
        if self._background is None:
            size = self.visual.image_size
            self._background = [self.bullet.render_rgbd(v, size) for v in self.visual.cameras]
        for name in static:
            self.bullet.hide(name)

    def support_top(self, xy: np.ndarray, exclude: str | None = None) -> tuple[float, str | None]:
        """Height of the highest surface under ``xy`` (a cube top or the table) and its cube."""
        best, best_cube = 0.0, None
        reach = self.cube_size / 2 + FOOTPRINT_MARGIN
        for c, p in self.positions().items():
            if c == exclude:
                continue
            if abs(p[0] - xy[0]) < reach and abs(p[1] - xy[1]) < reach:
                top = p[2] + self.cube_size / 2
                if top > best:
                    best, best_cube = top, c
        return best, best_cube

    # ------------------------------------------------------------------ acting
    def pick(self, xy: np.ndarray) -> None:
        """Pick at ``xy``: close the fingers around the top cube there (or on the table)."""
        top, _ = self.support_top(xy)
        grasp_z = max(top - self.cube_size / 2, self.cube_size / 2) + GRASP_ABOVE_CENTER
        self.robot.pick(xy, grasp_z)

    def place(self, xy: np.ndarray, held: str) -> None:
        """Place the held cube centred at ``xy`` on whatever surface is there.

        The fingers close across y, so a cube grasped off its centre stays off-centre in the
        hand (measured: 13 mm in x). The arm therefore moves the grasp point to ``xy`` minus
        that offset: the action says where the cube goes, in x and y as already in z. Placing
        the grasp point itself made a 13 mm off-centre grasp land its cube 27 mm off the
        target, topple off and push the target cube out of the workspace.
        """
        cube = self.bullet.pose(held)[0]
        ee = self.robot.ee_position()
        top, _ = self.support_top(xy, exclude=held)
        release_z = top + self.cube_size / 2 + RELEASE_GAP - (cube[2] - ee[2])
        grasp_xy = np.asarray(xy, dtype=np.float64) - (np.asarray(cube[:2]) - ee[:2])
        self.robot.place(grasp_xy, release_z)
        self.bullet.step(steps_for(PLACE_SETTLE_S))  # let the released cube settle

    def close(self) -> None:
        """Free the physics client."""
        self.bullet.close()


def _unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=np.float64) / np.linalg.norm(v)
