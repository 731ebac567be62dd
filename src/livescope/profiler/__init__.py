"""A sampling profiler: stacks of every thread via ``sys._current_frames`` at a fixed rate."""
