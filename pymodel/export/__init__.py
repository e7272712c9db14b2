"""Model -> accelerator: the DDR image, descriptors, generated header, interface, manifest.

The accelerator (``hls/``) is a layer-wise engine whose model dimensions and
per-tensor fixed-point formats are *run-time data*: an export writes them into
a descriptor table at the start of the DDR image (:mod:`.descriptor`), followed
by the lookup tables of the arithmetic contract and every weight in its
hardware format (:mod:`.layout`), plus the generated header the HLS sources
include (:mod:`.header`) and a manifest (:mod:`.writer`). The top function's
arguments, AXI bundles and register map have one owner (:mod:`.regmap`); the
design point (maxima, tiling, ports) is :class:`Design`.

>>> from pymodel.export import export_hls                 # doctest: +SKIP
>>> export_hls(model, "hw16", "build/hls/edgemoe-t")      # doctest: +SKIP
"""

from .checks import act_width, check_formats, format_table
from .descriptor import (
    DESC_MAGIC,
    EXPORT_FORMAT,
    EXPORT_VERSION,
    GLOBAL_FIELDS,
    STATUS_CODES,
    HlsExportError,
    block_fields,
    check_config,
    decode_format,
    encode_format,
    ln_eps_raw,
    read_global_descriptor,
    validate_descriptor,
)
from .design import DEFAULT_DESIGN, Design, HlsMaxima
from .header import CSIM_STAGES, TRACE_KINDS, config_header, depth_defines
from .layout import BEAT_BYTES, WEIGHT_W, Layout, axi_depths, image_sizes, plan_layout
from .prepare import export_from_cli, prepare_model
from .regmap import interface, m_axi_bundles, register_map, top_args
from .writer import MANIFEST, export_hls, quantize_image, write_params

__all__ = [
    "BEAT_BYTES",
    "CSIM_STAGES",
    "DEFAULT_DESIGN",
    "DESC_MAGIC",
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "GLOBAL_FIELDS",
    "MANIFEST",
    "STATUS_CODES",
    "TRACE_KINDS",
    "WEIGHT_W",
    "Design",
    "HlsExportError",
    "HlsMaxima",
    "Layout",
    "act_width",
    "axi_depths",
    "block_fields",
    "check_config",
    "check_formats",
    "config_header",
    "decode_format",
    "depth_defines",
    "encode_format",
    "export_from_cli",
    "export_hls",
    "format_table",
    "image_sizes",
    "interface",
    "ln_eps_raw",
    "m_axi_bundles",
    "plan_layout",
    "prepare_model",
    "quantize_image",
    "read_global_descriptor",
    "register_map",
    "top_args",
    "validate_descriptor",
    "write_params",
]
