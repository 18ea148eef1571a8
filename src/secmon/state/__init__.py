"""State backends for detection counters: memory (one process) and Redis (a fleet)."""
