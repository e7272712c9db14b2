"""Reports rendered from result files (``pymodel.results``): tables, plots, summaries.

``comparison``: ``edgemoe report``, FPGA (board, simulated board, performance
model, RTL engine) against the GPU/CPU baseline and the published anchors;
``rows``: result files as labelled table rows and ratios; ``plots``: the PNG
figures; ``anchors``: the published numbers, the one place they are typed.
"""
