"""Power and energy per frame on a ZCU104 from its PMBus rails (PYNQ's sensors).

Rails: ``12V`` (INA226 on the board input: everything) and ``INT`` (VCCINT, the
PL core). The recorder samples both while the board first idles with the same
bitstream loaded, then runs frames for at least ``min_run_s`` (10 s: the INA226
updates about every 35 ms and most IRPS5401 rails resolve 1/8 W, so short runs
measure noise). Per rail::

    idle_w            mean power of the idle window
    run_w             time-weighted mean power of the run window (trapezoids)
    energy_per_frame_j        (run_w - idle_w) * run_s / frames  (what the frames cost)
    total_energy_per_frame_j  run_w * run_s / frames             (board or rail total)

The maths (:func:`energy_from_frame`) takes any frame with a ``Mark`` column,
one ``<rail>_power`` column per rail and a datetime index, as
``pynq.DataRecorder.frame`` (pandas) is.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from .errors import HostError, PowerUnavailable

RAILS = ("12V", "INT")
MIN_RUN_S = 10.0


def get_rails(names: Sequence[str] = RAILS) -> dict[str, Any]:
    """pynq's power rails ``names``; :class:`PowerUnavailable` where they are absent."""
    try:
        import pynq

        found = pynq.get_rails()
    except Exception as exc:  # no pynq, no libsensors, no PMBus
        found, why = {}, f" ({exc})"
    else:
        why = ""
    missing = [n for n in names if n not in found or found[n].power is None]
    if missing:
        raise PowerUnavailable(
            f"power needs a ZCU104 running PYNQ: PMBus rails {list(names)} via "
            f"pynq.get_rails(); this machine has {sorted(found) or 'none'}{why} "
            f"(missing {missing})"
        )
    return {n: found[n] for n in names}


def _seconds(index: Any) -> np.ndarray:
    return np.asarray(index, dtype="datetime64[ns]").astype(np.int64) / 1e9


def energy_from_frame(
    frame: Any,
    *,
    frames: int,
    run_s: float,
    idle_mark: int = 0,
    run_mark: int = 1,
    rails: Sequence[str] = RAILS,
) -> dict[str, Any]:
    """Energy per frame from a recorded frame (see the module doc for the formulas)."""
    if frames < 1 or run_s <= 0:
        raise ValueError(f"frames={frames}, run_s={run_s}: need at least one frame and time")
    marks = np.asarray(frame["Mark"]).astype(np.int64)
    t = _seconds(frame.index)
    idle_t, run_t = t[marks == idle_mark], t[marks == run_mark]
    out: dict[str, Any] = {}
    for rail in rails:
        p = np.asarray(frame[f"{rail}_power"], dtype=np.float64)
        idle, run = p[marks == idle_mark], p[marks == run_mark]
        if idle.size < 2 or run.size < 2:
            raise HostError(
                f"rail {rail}: {idle.size} idle and {run.size} run samples; need >= 2 of each "
                "(lengthen the windows or shorten the sampling interval)"
            )
        span = run_t[-1] - run_t[0]
        run_w = (
            float(((run[1:] + run[:-1]) / 2 * np.diff(run_t)).sum() / span)
            if span > 0
            else float(run.mean())
        )
        idle_w = float(idle.mean())
        out[rail] = {
            "idle_w": idle_w,
            "run_w": run_w,
            "dynamic_w": run_w - idle_w,
            "energy_per_frame_j": (run_w - idle_w) * run_s / frames,
            "total_energy_per_frame_j": run_w * run_s / frames,
            "samples_idle": int(idle.size),
            "samples_run": int(run.size),
        }
    return {
        "rails": out,
        "frames": int(frames),
        "run_s": float(run_s),
        "idle_s": float(idle_t[-1] - idle_t[0]),
        "samples": int(marks.size),
        "interval_s": float(np.median(np.diff(t))) if t.size > 1 else None,
        "short_run": bool(run_s < MIN_RUN_S),
    }


def measure(
    run_frame: Callable[[], Any],
    *,
    min_frames: int = 1,
    idle_s: float = 5.0,
    min_run_s: float = MIN_RUN_S,
    interval_s: float = 0.05,
    rails: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Idle window, then ``run_frame()`` repeatedly for >= ``min_run_s`` and >= ``min_frames``.

    Call with the bitstream loaded (the idle baseline must include it). Returns
    :func:`energy_from_frame` of the recording.
    """
    import pynq

    rails = rails or get_rails()
    recorder = pynq.DataRecorder(*(rails[n].power for n in RAILS))
    with recorder.record(interval_s):  # Mark 0: idle
        time.sleep(idle_s)
        recorder.mark()  # Mark 1: run
        frames, t0 = 0, time.perf_counter()
        while frames < min_frames or time.perf_counter() - t0 < min_run_s:
            run_frame()
            frames += 1
        run_s = time.perf_counter() - t0
        recorder.mark()  # Mark 2: tail, not counted
    return energy_from_frame(recorder.frame, frames=frames, run_s=run_s)
