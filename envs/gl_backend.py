"""Choose a headless OpenGL backend for MuJoCo before MuJoCo is imported.

MuJoCo reads ``MUJOCO_GL`` once, at import time, so the choice has to happen
first. When the user has not set it we try EGL (GPU or Mesa's surfaceless
platform), then OSMesa (pure software), each in a short subprocess so that a
backend that crashes while creating its context cannot take this process down.
The result is written to ``os.environ`` so worker processes inherit it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

# The Debian packages each backend needs; named in the error message.
BACKEND_PACKAGES = {
    "egl": "libegl1 libegl-mesa0 libgl1-mesa-dri",
    "osmesa": "libosmesa6",
}

_PROBE = (
    "import mujoco\n"
    "m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><geom size=\"1\"/></worldbody></mujoco>')\n"
    "r = mujoco.Renderer(m, 8, 8)\n"
    "r.update_scene(mujoco.MjData(m))\n"
    "r.render()\n"
)


class RenderBackendError(RuntimeError):
    """No headless OpenGL backend works on this machine."""


def _backend_env(backend: str) -> dict[str, str]:
    env = {"MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
    if backend == "egl":
        env.setdefault("EGL_PLATFORM", os.environ.get("EGL_PLATFORM", "surfaceless"))
    return env


def _probe(backend: str) -> str | None:
    """Returns None when `backend` renders, else the error text."""
    env = dict(os.environ, **_backend_env(backend))
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        return "timed out creating a context"
    if done.returncode == 0:
        return None
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit code {done.returncode}"


def _mujoco_installed() -> bool:
    try:
        return importlib.util.find_spec("mujoco") is not None
    except (ImportError, ValueError):
        return False


def select_gl_backend() -> str:
    """Sets ``MUJOCO_GL`` (and friends) to a working headless backend and returns its name.

    A value the user already set is respected and not probed. Without MuJoCo installed
    (a machine that only trains from demonstration files) there is nothing to set up and
    "none" is returned. Raises
    `RenderBackendError` naming the packages to install when nothing works.
    """
    chosen = os.environ.get("MUJOCO_GL")
    if chosen:
        if chosen == "egl":
            os.environ.setdefault("EGL_PLATFORM", "surfaceless")
        os.environ.setdefault("PYOPENGL_PLATFORM", chosen if chosen in BACKEND_PACKAGES else "")
        return chosen
    if not _mujoco_installed():
        return "none"
    errors = {}
    for backend in ("egl", "osmesa"):
        error = _probe(backend)
        if error is None:
            os.environ.update(_backend_env(backend))
            return backend
        errors[backend] = error
    details = "; ".join(f"{name}: {err}" for name, err in errors.items())
    raise RenderBackendError(
        "No headless OpenGL backend works for MuJoCo rendering "
        f"({details}). Install one: `apt-get install -y {BACKEND_PACKAGES['egl']}` (EGL) "
        f"or `apt-get install -y {BACKEND_PACKAGES['osmesa']}` (OSMesa), "
        "or set MUJOCO_GL yourself."
    )
