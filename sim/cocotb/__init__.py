"""cocotb testbenches of the RTL arithmetic units (run through :mod:`sim.rtl`)."""
