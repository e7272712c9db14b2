"""Performance and resource models of the accelerator, and design-space exploration."""
