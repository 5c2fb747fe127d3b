"""
The stage contracts: every HDF5 node path, root attribute, FITS keyword and HDU name
and index column that one stage writes and another reads, in one place.

Three kinds of names live here:

* ctapipe's data model (`ctapipe.io.hdf5dataformat`), re-exported unchanged so that
  iactpipe's DL1/DL2 files stay readable by ``TableLoader``, ``ctapipe-fileinfo`` and
  ``ctapipe-merge``; a few nodes that ctapipe writes but does not name there (the
  subarray layout, the telescope impact of a stereo reconstruction);
* iactpipe's own HDF5 groups (coincidence diagnostics, selection flags, simulator
  truth, training report) and root attributes (``IACTPIPE_*`` provenance);
* iactpipe's FITS keywords and HDU names of the IRF, performance and DL3 files
  (``SELFP``, ``CUTFP``, ``GH_CUTS``, ...).

No other module spells a node path or keyword as a literal: grep for the constant to
find every writer and reader of a node. Per-telescope tables are named with
`tel_node`.
"""

from __future__ import annotations

from ctapipe.io.hdf5dataformat import (
    CONFIG_GROUP,
    DL0_TEL_MONITORING_GROUP,
    DL0_TEL_POINTING_GROUP,
    DL1_GROUP,
    DL1_IMAGE_STATISTICS_TABLE,
    DL1_SKY_PEDESTAL_IMAGE_GROUP,
    DL1_SUBARRAY_GROUP,
    DL1_SUBARRAY_TRIGGER_TABLE,
    DL1_TEL_GROUP,
    DL1_TEL_IMAGES_GROUP,
    DL1_TEL_MONITORING_GROUP,
    DL1_TEL_PARAMETERS_GROUP,
    DL1_TEL_TRIGGER_TABLE,
    DL2_GROUP,
    DL2_SUBARRAY_ENERGY_GROUP,
    DL2_SUBARRAY_GEOMETRY_GROUP,
    DL2_SUBARRAY_GROUP,
    DL2_TEL_GROUP,
    FIXED_POINTING_GROUP,
    OBSERVATION_BLOCK_TABLE,
    R0_TEL_GROUP,
    R1_TEL_GROUP,
    SIMULATION_GROUP,
    SIMULATION_IMAGES_GROUP,
    SIMULATION_IMPACT_GROUP,
    SIMULATION_SHOWER_TABLE,
    SIMULATION_TEL_TABLE,
)

__all__ = [
    "ATTRIBUTE_PREFIX",
    "COINCIDENCE_GROUP",
    "COINCIDENCE_INPUTS_TABLE",
    "COINCIDENCE_OFFSET_SCAN_TABLE",
    "COINCIDENCE_PAIRS_TABLE",
    "COINCIDENCE_SUMMARY_TABLE",
    "CONFIG_ATTRIBUTE",
    "CONFIG_GROUP",
    "CONFIG_OBSERVATION_GROUP",
    "CONFIG_SIMULATION_GROUP",
    "CUTS_FINGERPRINT_KEYWORD",
    "CV_PREDICTIONS_GROUP",
    "DL0_TEL_MONITORING_GROUP",
    "DL0_TEL_POINTING_GROUP",
    "DL1_CONFIG_ATTRIBUTE",
    "DL1_FINGERPRINT_ATTRIBUTE",
    "DL1_GROUP",
    "DL1_IMAGE_STATISTICS_TABLE",
    "DL1_SKY_PEDESTAL_IMAGE_GROUP",
    "DL1_SUBARRAY_GROUP",
    "DL1_SUBARRAY_TRIGGER_TABLE",
    "DL1_TEL_GROUP",
    "DL1_TEL_IMAGES_GROUP",
    "DL1_TEL_MONITORING_GROUP",
    "DL1_TEL_ORIGINAL_IDS_GROUP",
    "DL1_TEL_PARAMETERS_GROUP",
    "DL1_PIXEL_CHARGES_GROUP",
    "DL1_TEL_SELECTION_GROUP",
    "DL1_TEL_TRIGGER_TABLE",
    "DL2_GROUP",
    "DL2_SUBARRAY_CLASSIFICATION_GROUP",
    "DL2_SUBARRAY_ENERGY_GROUP",
    "DL2_SUBARRAY_GEOMETRY_GROUP",
    "DL2_SUBARRAY_GROUP",
    "DL2_TEL_GROUP",
    "DL2_TEL_IMPACT_GROUP",
    "DL2_MODEL_NODES_TABLE",
    "MODEL_LIBRARY_CONFIG_ATTRIBUTE",
    "MODEL_LIBRARY_FINGERPRINT_ATTRIBUTE",
    "MODEL_LIBRARY_KEYWORD",
    "MODEL_NODES_HDU",
    "MODEL_NODE_KEYWORDS",
    "MODEL_NODES_USED_KEYWORD",
    "MODEL_OUTSIDE_KEYWORD",
    "FIXED_POINTING_GROUP",
    "GH_CUTS_HDU",
    "GH_EFFICIENCY_HDU",
    "GH_RULE_KEYWORD",
    "LAYOUT_TABLE",
    "MONITOR_ELEMENTS_ATTRIBUTE",
    "OBSERVATION_BLOCK_TABLE",
    "PROVENANCE_HDU",
    "R0_TEL_GROUP",
    "R1_TEL_GROUP",
    "SELECTION_FINGERPRINT_KEYWORD",
    "SIMULATION_GROUP",
    "SIMULATION_IMAGES_GROUP",
    "SIMULATION_IMPACT_GROUP",
    "SIMULATION_SERVICE_GROUP",
    "SIMULATION_SHOWER_TABLE",
    "SIMULATION_TEL_TABLE",
    "SIMULATION_TRUTH_GROUP",
    "STEREO_SUMMARY_ATTRIBUTE",
    "TRUNCATED_ATTRIBUTE",
    "SUBARRAY_EVENT_KEYS",
    "TELESCOPE_EVENT_KEYS",
    "THETA_CUTS_HDU",
    "TOOL_ATTRIBUTE",
    "TRAIN_REPORT_GROUP",
    "VERSION_ATTRIBUTE",
    "VERSION_KEYWORD",
    "config_attribute",
    "fingerprint_attribute",
    "tel_node",
]

# ---------------------------------------------------------------- ctapipe's data model
# nodes ctapipe writes (SubarrayDescription.to_hdf, DataWriter, the reconstructors'
# stereo output) without a constant in ctapipe.io.hdf5dataformat

#: the subarray layout written by ``SubarrayDescription.to_hdf``
LAYOUT_TABLE = "/configuration/instrument/subarray/layout"
#: observation and scheduling blocks
CONFIG_OBSERVATION_GROUP = f"{CONFIG_GROUP}/observation"
#: simulation runs (``/configuration/simulation/run``)
CONFIG_SIMULATION_GROUP = f"{CONFIG_GROUP}/simulation"
#: atmosphere profile and shower distribution of simulations
SIMULATION_SERVICE_GROUP = f"{SIMULATION_GROUP}/service"
#: per-telescope impact of a stereo geometry reconstruction: ``<group>/<prefix>/tel_NNN``
DL2_TEL_IMPACT_GROUP = f"{DL2_TEL_GROUP}/impact"
#: gammaness of the classifier, ``<group>/<prefix>`` (per telescope below ``DL2_TEL_GROUP``)
DL2_SUBARRAY_CLASSIFICATION_GROUP = f"{DL2_SUBARRAY_GROUP}/classification"

# ---------------------------------------------------------------- iactpipe's HDF5 nodes

#: iactpipe-r0-dl1: per-telescope flags of the image selection (``tel_NNN`` tables)
DL1_TEL_SELECTION_GROUP = f"{DL1_TEL_GROUP}/selection"
#: iactpipe-r0-dl1: histograms of the extracted pixel charges, pedestal and all events
#: (``tel_NNN`` tables, one row per charge bin)
DL1_PIXEL_CHARGES_GROUP = f"{DL1_TEL_MONITORING_GROUP}/pixel_charges"
#: iactpipe-dl1-stereo: obs/event ids of each telescope's input events
DL1_TEL_ORIGINAL_IDS_GROUP = f"{DL1_TEL_GROUP}/original_ids"
#: iactpipe-dl1-stereo: coincidence diagnostics
COINCIDENCE_GROUP = f"{DL1_GROUP}/service/coincidence"
COINCIDENCE_PAIRS_TABLE = f"{COINCIDENCE_GROUP}/pairs"
COINCIDENCE_SUMMARY_TABLE = f"{COINCIDENCE_GROUP}/summary"
COINCIDENCE_OFFSET_SCAN_TABLE = f"{COINCIDENCE_GROUP}/offset_scan"
COINCIDENCE_INPUTS_TABLE = f"{COINCIDENCE_GROUP}/inputs"
#: iactpipe-simulate: true sources and rates of simulated observation runs
SIMULATION_TRUTH_GROUP = "/simulation_truth/observation"
#: iactpipe-train: cross-validation report tables and predictions (``cv_report.h5``)
TRAIN_REPORT_GROUP = "/report"
CV_PREDICTIONS_GROUP = "/cv_predictions"
#: iactpipe-dl1-dl2 with a model library: per array event the pointing zenith, the two
#: library nodes used (indices into the nodes of ``MODEL_LIBRARY_CONFIG_ATTRIBUTE``),
#: their weights and the out-of-range flag (outside ``/dl2/event`` that TableLoader reads)
DL2_MODEL_NODES_TABLE = f"{DL2_GROUP}/service/model_nodes"

# ---------------------------------------------------------------- index columns

#: the columns that identify a subarray event
SUBARRAY_EVENT_KEYS = ("obs_id", "event_id")
#: the columns that identify a telescope event
TELESCOPE_EVENT_KEYS = ("obs_id", "event_id", "tel_id")

# ---------------------------------------------------------------- HDF5 root attributes

#: every iactpipe root attribute starts with this
ATTRIBUTE_PREFIX = "IACTPIPE_"
VERSION_ATTRIBUTE = f"{ATTRIBUTE_PREFIX}VERSION"
TOOL_ATTRIBUTE = f"{ATTRIBUTE_PREFIX}TOOL"
#: the writing Tool's full effective configuration (JSON)
CONFIG_ATTRIBUTE = f"{ATTRIBUTE_PREFIX}CONFIG"
#: iactpipe-dl1-stereo: the matching summary (JSON)
STEREO_SUMMARY_ATTRIBUTE = f"{ATTRIBUTE_PREFIX}STEREO_SUMMARY"
#: iactpipe-dqm: the monitor elements of a reference file (JSON)
MONITOR_ELEMENTS_ATTRIBUTE = f"{ATTRIBUTE_PREFIX}MONITOR_ELEMENTS"
#: made from a truncated simulation file (the reason): iactpipe-irf refuses the file
TRUNCATED_ATTRIBUTE = f"{ATTRIBUTE_PREFIX}TRUNCATED_INPUT"


def config_attribute(kind: str) -> str:
    """Root attribute of the fingerprinted config of ``kind`` (``IACTPIPE_DL1_CONFIG``)."""
    return f"{ATTRIBUTE_PREFIX}{kind.upper()}_CONFIG"


def fingerprint_attribute(kind: str) -> str:
    """Root attribute of the fingerprint of ``kind`` (``IACTPIPE_DL1_FINGERPRINT``)."""
    return f"{ATTRIBUTE_PREFIX}{kind.upper()}_FINGERPRINT"


#: the image extraction and cleaning of iactpipe-r0-dl1 (models and stereo inputs agree)
DL1_CONFIG_ATTRIBUTE = config_attribute("DL1")
DL1_FINGERPRINT_ATTRIBUTE = fingerprint_attribute("DL1")
#: the model library of iactpipe-dl1-dl2 (its nodes, JSON) and its fingerprint
MODEL_LIBRARY_CONFIG_ATTRIBUTE = config_attribute("MODEL_LIBRARY")
MODEL_LIBRARY_FINGERPRINT_ATTRIBUTE = fingerprint_attribute("MODEL_LIBRARY")

# ---------------------------------------------------------------- FITS files

#: fingerprint of the DL2EventSelection (IRF, performance and DL3 primary headers)
SELECTION_FINGERPRINT_KEYWORD = "SELFP"
#: fingerprint of the EventCuts that made an IRF's cuts
CUTS_FINGERPRINT_KEYWORD = "CUTFP"
#: fingerprint of the model library that made the DL2 inputs of an IRF (primary header)
MODEL_LIBRARY_KEYWORD = "MODLIBFP"
#: DL3 of a run reconstructed with a model library: the nodes used and their weights
#: summed over the run's DL3 events (one row per library node; not indexed by gammapy)
MODEL_NODES_HDU = "MODEL_NODES"
#: DL3 EVENTS header: number of model nodes with a weight, then per used node ``i``
#: (1, 2, ... by decreasing weight) ``<prefix><i>``: node directory, zenith, azimuth
#: and the node's share of the DL3 events' weight
MODEL_NODES_USED_KEYWORD = "MOD_NNOD"
MODEL_NODE_KEYWORDS = ("MOD_ND", "MOD_ZD", "MOD_AZ", "MOD_WT")
#: DL3 EVENTS header: events outside the model nodes' zenith range (nearest node used)
MODEL_OUTSIDE_KEYWORD = "MOD_OUT"
#: iactpipe's version in a primary header
VERSION_KEYWORD = "IACTVER"
#: the energy-dependent gammaness and theta cuts of an IRF (and performance) file
GH_CUTS_HDU = "GH_CUTS"
THETA_CUTS_HDU = "THETA_CUTS"
#: an IRF file's gamma-efficiency curves: per reconstructed-energy bin of ``GH_CUTS``,
#: the gammaness quantiles of the gammas that made the cut (``iactpipe.irf.cuts``)
GH_EFFICIENCY_HDU = "GH_EFFICIENCY"
#: DL3 EVENTS header: the gammaness-cut rule of events between model nodes
#: (``iactpipe.dl3.node_cuts``); absent: the run's (interpolated) GH_CUTS alone
GH_RULE_KEYWORD = "GH_RULE"
#: the provenance table of an IRF file
PROVENANCE_HDU = "IACTPIPE_PROVENANCE"


def tel_node(group: str, tel_id: int) -> str:
    """The per-telescope table of ``group``: ``<group>/tel_NNN``."""
    return f"{group}/tel_{tel_id:03d}"
