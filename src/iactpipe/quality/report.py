"""
Self-contained HTML reports (figures embedded as base64 PNG, no external reference) per
run and per night (the night summary as PDF is `iactpipe.plotting.quality.write_night_pdf`).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from astropy.table import Table

from ..version import __version__
from .elements import MonitorElements

if TYPE_CHECKING:  # figures are made in iactpipe.plotting; only embedded here
    from matplotlib.figure import Figure

__all__ = [
    "RunAssessment",
    "figure_to_data_uri",
    "night_summary_html",
    "run_report_html",
]

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; max-width: 1100px; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }
tr.bad td { background: #fdd; } tr.good td { background: #dfd; }
img { max-width: 100%; }
.small { color: #666; font-size: small; }
"""


@dataclass
class RunAssessment:
    """The verdict on one (run, telescope): its elements, reasons and figures."""

    elements: MonitorElements
    reasons: list[str]
    figures: dict[str, Figure] = field(default_factory=dict)

    @property
    def good(self) -> bool:
        """True when no check gave a reason."""
        return not self.reasons


def figure_to_data_uri(fig: Figure, dpi: int = 80) -> str:
    """A ``data:image/png;base64,...`` URI of the figure (embedded, no file)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}"
        f"<p class='small'>iactpipe {html.escape(__version__)} (iactpipe-dqm)</p>"
        "</body></html>\n"
    )


def _fmt(value, digits: int = 2) -> str:
    if isinstance(value, float | np.floating):
        return "n/a" if not np.isfinite(value) else f"{value:.{digits}f}"
    return html.escape(str(value))


def _summary_rows(assessment: RunAssessment) -> str:
    e = assessment.elements
    rows = [
        ("verdict", "good" if assessment.good else "BAD"),
        ("reasons", "; ".join(assessment.reasons) or "none"),
        ("file", e.file),
        ("source", e.source),
        ("night", e.night),
        ("start (UTC)", e.start_time),
        ("duration [s]", _fmt(e.duration_s, 1)),
        ("live time [s]", _fmt(e.livetime_s, 1)),
        ("zenith [deg]", _fmt(e.zenith_deg, 1)),
        ("physics triggers", e.n_events),
        ("mean rate [Hz]", _fmt(e.mean_rate_hz)),
        (f"rate above {e.bright_intensity_pe:.0f} p.e. [Hz]", _fmt(e.bright_rate_hz)),
        ("NSB level (pedestal std) [p.e.]", _fmt(e.nsb_level_pe)),
        ("pedestal monitoring rows", e.n_pedestal_rows),
        ("time reversals / duplicated ids", f"{e.n_time_reversals} / {e.n_duplicate_event_ids}"),
        ("longest trigger gap [s]", _fmt(e.max_gap_s, 3)),
        ("stereo matched fraction", _fmt(e.stereo_matched_fraction)),
    ]
    return "".join(
        f"<tr><th>{html.escape(k)}</th><td>{v if k != 'reasons' else html.escape(v)}</td></tr>"
        for k, v in rows
    )


def run_report_html(assessments: Sequence[RunAssessment]) -> str:
    """
    HTML report of one run: per telescope a summary table and its figures.

    Parameters
    ----------
    assessments : sequence of RunAssessment
        The telescopes of one run.
    """
    obs_id = assessments[0].elements.obs_id
    parts = []
    for a in assessments:
        css = "good" if a.good else "bad"
        parts.append(f"<h2>Telescope {a.elements.tel_id}</h2>")
        parts.append(f"<table class='{css}'>{_summary_rows(a)}</table>")
        for name, fig in a.figures.items():
            parts.append(
                f"<h3>{html.escape(name)}</h3><img alt='{html.escape(name)}' "
                f"src='{figure_to_data_uri(fig)}'>"
            )
    return _page(f"Run {obs_id}: data quality", "".join(parts))


def _table_html(table: Table) -> str:
    names = [
        "obs_id",
        "tel_id",
        "good",
        "source",
        "zenith",
        "livetime",
        "nsb_level",
        "mean_rate_hz",
        "bright_rate_hz",
        "reasons",
    ]
    names = [n for n in names if n in table.colnames]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for row in table:
        css = "good" if row["good"] else "bad"
        cells = "".join(
            f"<td>{_fmt(row[n].item() if hasattr(row[n], 'item') else row[n])}</td>" for n in names
        )
        rows.append(f"<tr class='{css}'>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def night_summary_html(
    night_tables: dict[str, Table],
    figures: dict[str, Figure],
    bad_files: dict[str, str] | None = None,
) -> str:
    """
    HTML summary of every night: the run table (sources, zenith, live time, rates,
    flags) per night and the summary figures.

    Parameters
    ----------
    night_tables : dict of str to Table
        Night (YYYY-MM-DD) -> rows of the run-quality table with the extra columns
        ``mean_rate_hz`` and ``bright_rate_hz``.
    figures : dict of str to Figure
        Title -> figure.
    bad_files : dict of str to str, optional
        Input files left out as unreadable -> why.
    """
    parts = []
    if bad_files:
        items = "".join(f"<li>{html.escape(why)}</li>" for why in bad_files.values())
        parts.append(f"<h2>Files left out ({len(bad_files)})</h2><ul>{items}</ul>")
    for night, table in sorted(night_tables.items()):
        n_runs = len(set(table["obs_id"]))
        n_bad = len(set(table["obs_id"][~table["good"]]))
        livetime = float(np.sum(table["livetime"][table["good"]]))
        parts.append(
            f"<h2>Night {html.escape(night)}</h2><p>{n_runs} runs, {n_bad} bad; good "
            f"telescope live time {livetime:.1f} s; sources: "
            f"{html.escape(', '.join(sorted(set(table['source']))))}</p>"
        )
        parts.append(_table_html(table))
    for name, fig in figures.items():
        parts.append(
            f"<h2>{html.escape(name)}</h2><img alt='{html.escape(name)}' "
            f"src='{figure_to_data_uri(fig)}'>"
        )
    return _page("Night summary: data quality", "".join(parts))
