"""Offline sandbox: the real bot on the local emulator, simulated respondents, a terminal chat."""
