"""Drawing: the Generator protocol and its diffusers backend (`generate`), PNGs, grids and
the veil (`images`), and the tiny random models for tests and `--demo` (`tiny`)."""
