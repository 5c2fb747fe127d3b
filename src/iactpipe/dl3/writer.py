"""
Write one GADF DL3 file per run: EVENTS, GTI, POINTING and the run's IRF HDUs
(EFFECTIVE AREA, ENERGY DISPERSION, PSF or RAD_MAX, BACKGROUND) plus the cuts that made
them (GH_CUTS, THETA_CUTS), atomically (`iactpipe.io.AtomicOutputFile`).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import EarthLocation
from astropy.io import fits

from ..io import AtomicOutputFile
from ..io.dataformat import (
    CUTS_FINGERPRINT_KEYWORD,
    GH_CUTS_HDU,
    SELECTION_FINGERPRINT_KEYWORD,
    THETA_CUTS_HDU,
)
from ..irf.library import INDEX_NAME
from .events import RunEvents
from .gadf import common_cards, events_hdu, gti_hdu, pointing_hdu, time_to_seconds
from .irf_choice import IRFChoice, IRFFile
from .livetime import LiveTime
from .model_nodes import ModelNodeUsage

__all__ = ["dl3_file_name", "run_cards", "write_dl3_file", "write_fits_gz"]


def dl3_file_name(obs_id: int) -> str:
    """``dl3_obs<obs_id>.fits.gz``."""
    return f"dl3_obs{obs_id:08d}.fits.gz"


def write_fits_gz(hdus: fits.HDUList, path: Path, **writeto_options) -> None:
    """
    Write ``hdus`` gzip-compressed to ``path``, reproducibly: the gzip header carries
    neither a file name nor a time (``gzip.open`` would store the temporary name and
    the wall clock), so the same run gives the same bytes whenever and wherever it is
    written.
    """
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as stream:
        hdus.writeto(stream, **writeto_options)


#: IRF header keywords not copied into DL3 files: the IRF file's creation time (it stays
#: in the IRF library; the copy would make two productions of the same DL3 differ)
NOT_COPIED_IRF_KEYWORDS = ("DATE",)


def _library_relative(cards: list[tuple]) -> list[tuple]:
    """
    The IRF-node directory cards (``IRF_NODE``, ``IRF_ND<i>``) relative to the IRF
    library root (the directory holding its index), so that the DL3 file does not
    depend on where the library lives.
    """
    result = []
    for key, value, comment in cards:
        if key == "IRF_NODE" or (key.startswith("IRF_ND") and key[6:].isdigit()):
            node = Path(value)
            root = next((p for p in node.parents if (p / INDEX_NAME).is_file()), None)
            if root is not None:
                value = str(node.relative_to(root))
                comment = f"{comment} (in the IRF library)"
        result.append((key, value, comment))
    return result


def run_cards(
    run: RunEvents,
    live: LiveTime,
    per_tel: dict[int, LiveTime],
    location: EarthLocation,
    object_name: str,
) -> list[tuple]:
    """Observation, pointing and live-time keywords of a run."""
    middle = run.start + (run.stop - run.start) / 2
    altaz = run.pointing_altaz(middle, location)
    ontime = (run.stop - run.start).to(u.s)
    cards = [
        ("OBS_MODE", "POINTING", "tracking a fixed RA/Dec (wobble)"),
        ("OBJECT", object_name, ""),
        ("RA_PNT", float(run.pointing.ra.deg), "[deg] pointing RA (ICRS)"),
        ("DEC_PNT", float(run.pointing.dec.deg), "[deg] pointing Dec (ICRS)"),
        ("ALT_PNT", float(altaz.alt.deg), "[deg] pointing altitude, middle of the run"),
        ("AZ_PNT", float(altaz.az.deg), "[deg] pointing azimuth, middle of the run"),
        ("EQUINOX", 2000.0, ""),
        ("RADECSYS", "ICRS", ""),
        ("RADESYS", "ICRS", ""),
        ("TSTART", float(time_to_seconds(run.start)), "[s] first physics trigger"),
        ("TSTOP", float(time_to_seconds(run.stop)), "[s] last physics trigger"),
        ("DATE-OBS", run.start.utc.isot, "UTC start"),
        ("DATE-END", run.stop.utc.isot, "UTC stop"),
        ("ONTIME", float(ontime.to_value(u.s)), "[s] elapsed time of the GTI"),
        ("LIVETIME", float(live.live_time.to_value(u.s)), "[s] dead-time corrected"),
        ("DEADC", float((live.live_time / ontime).to_value(u.one)), "LIVETIME / ONTIME"),
        ("N_TELS", len(per_tel), "telescopes in the run"),
        ("TELLIST", ",".join(str(t) for t in per_tel), "telescope ids"),
        ("LT_METH", "dt-exponential", "live time: fit of dt to previous physics trigger"),
    ]
    for tel_id, lt in per_tel.items():
        cards += [
            (f"RATE{tel_id}", float(lt.rate.to_value(u.Hz)), f"[Hz] true rate tel {tel_id}"),
            (f"DEAD{tel_id}", float(lt.dead_time.to_value(u.us)), f"[us] dead time tel {tel_id}"),
            (f"LIVE{tel_id}", float(lt.live_time.to_value(u.s)), f"[s] live time tel {tel_id}"),
        ]
    return cards


def write_dl3_file(
    path: Path | str,
    run: RunEvents,
    live: LiveTime,
    per_tel: dict[int, LiveTime],
    irf: IRFFile,
    choice: IRFChoice,
    location: EarthLocation,
    object_name: str = "UNKNOWN",
    overwrite: bool = False,
    extra_cards: list[tuple] | None = None,
    output: AtomicOutputFile | None = None,
    model_nodes: ModelNodeUsage | None = None,
) -> Path:
    """
    Write the DL3 file of ``run`` (a temporary file, renamed when complete; with
    ``output``, its temporary file, left for the caller to commit). ``model_nodes``: the
    model-library nodes of the run's events (EVENTS keywords and a ``MODEL_NODES`` HDU).

    Returns
    -------
    Path
        The written file.
    """
    common = common_cards(run.obs_id, location)
    cards = [
        *common,
        *run_cards(run, live, per_tel, location, object_name),
        *_library_relative(choice.header_cards()),
        (SELECTION_FINGERPRINT_KEYWORD, irf.selection_fingerprint, "DL2EventSelection"),
        (
            CUTS_FINGERPRINT_KEYWORD,
            str(irf.primary_header.get(CUTS_FINGERPRINT_KEYWORD, "")),
            "EventCuts",
        ),
        ("GAMMAEFF", float(irf.primary_header.get("GAMMAEFF", np.nan)), "gh cut efficiency"),
        ("EVCLASS", str(irf.primary_header.get("EVCLASS", "")), "event class"),
        ("IRFTYPE", irf.irf_type, "point-like or full-enclosure"),
        *(model_nodes.header_cards() if model_nodes is not None else []),
        *(extra_cards or []),
    ]
    n_samples = max(2, int((run.stop - run.start).to_value(u.s) // 10) + 2)
    sample_times = run.start + np.linspace(0, 1, n_samples) * (run.stop - run.start)
    altaz = run.pointing_altaz(sample_times, location)
    hdus = [
        fits.PrimaryHDU(header=fits.Header([c[:3] for c in common])),
        events_hdu(run.events, cards),
        gti_hdu(run.start, run.stop, common),
        pointing_hdu(
            sample_times,
            np.full(n_samples, run.pointing.ra.deg) * u.deg,
            np.full(n_samples, run.pointing.dec.deg) * u.deg,
            altaz.alt,
            altaz.az,
            [*common, ("OBS_MODE", "POINTING", "")],
        ),
    ]
    for hdu in irf.hdus:
        hdu = hdu.copy()
        for key in NOT_COPIED_IRF_KEYWORDS:
            hdu.header.remove(key, ignore_missing=True, remove_all=True)
        for key, value, comment in common:
            hdu.header[key] = (value, comment)
        hdus.append(hdu)
    for name, table in ((GH_CUTS_HDU, irf.gh_cuts), (THETA_CUTS_HDU, irf.theta_cuts)):
        hdu = fits.table_to_hdu(table)
        hdu.name = name
        hdus.append(hdu)
    if model_nodes is not None:
        hdus.append(model_nodes.hdu(common))
    if output is not None:
        write_fits_gz(fits.HDUList(hdus), output.temporary_path)
        return Path(path)
    with AtomicOutputFile(path, overwrite=overwrite) as out:
        write_fits_gz(fits.HDUList(hdus), out.temporary_path)
    return Path(path)
