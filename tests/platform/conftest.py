"""The emulator served over real HTTP, shared by a module and reset for each test."""

from tests.support.emulator_fixtures import emulator, emulator_rest, module_emulator

__all__ = ["emulator", "emulator_rest", "module_emulator"]
