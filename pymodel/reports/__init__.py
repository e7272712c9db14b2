"""Reports and generated documents.

Rendered from result files (``pymodel.results``): ``comparison`` (``edgemoe
report``: FPGA -- board, simulated board, performance model, RTL engine --
against the GPU/CPU baseline and the published anchors), ``rows`` (result files
as labelled table rows and ratios), ``plots`` (the PNG figures), ``anchors``
(the published numbers, the one place they are typed).

Generated documents: ``numerics`` (docs/NUMERICS.md), ``accuracy``
(docs/ACCURACY.md), with ``common`` and ``sweeps``: each measures into a JSON
file under build/ and renders one document's marked section from that file
alone (``python -m pymodel.reports.<module>``).
"""
