"""sim: verification harnesses (g++ C simulation of the HLS code, cocotb RTL testbenches).

Nothing here yet: the harnesses are built with the HLS and RTL sources (see the open issues).
"""
