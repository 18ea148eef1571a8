"""Load and fault testing of the example projects under real servers (`make load`)."""
