"""The emulators as a child process (`python -m sim ...`), for tests that need a real process boundary."""

from sim.process import emulators as sim_process

__all__ = ["sim_process"]
