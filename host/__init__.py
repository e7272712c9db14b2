"""host: the accelerator's host side (PYNQ runtime, simulated board, power, GPU/CPU baselines).

Nothing here yet: the runtime is built on the HLS export (see the open issues).
``host.baseline``: the GPU/CPU latency and energy baseline (imports torch only when run).
"""
