"""
Quick-look report: the JSON summary (`SUMMARY_KEYS`), the effective configuration
(``config.json``) and one self-contained HTML page whose figures are base64-embedded
PNGs, so that it can be mailed or opened offline. Numbers are written for reading:
measured values rounded by their error (`format_measurement`), others to three
significant digits (`format_number`), units named.
The output directory is built as a temporary sibling and renamed when complete.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..io import AtomicOutputFile, OutputExistsError

__all__ = [
    "SUMMARY_KEYS",
    "figure_png",
    "format_measurement",
    "format_number",
    "render_html",
    "to_jsonable",
    "write_report",
]

#: keys every summary.json has (the interface iactpipe-chain and scripts read)
SUMMARY_KEYS = (
    "target",
    "observations",
    "livetime_s",
    "zenith_deg",
    "n_on",
    "n_off",
    "alpha",
    "excess",
    "significance",
    "detected",
    "spectral_fit",
    "flux_points",
    "light_curve",
    "upper_limit",
    "iactpipe_version",
    "config",
    "runs",
    "method",
    "notes",
    "command",
)

#: figure name -> section title of the report, in page order
SECTIONS = {
    "theta2": "Theta² distribution",
    "significance": "Significance vs live time",
    "skymaps": "Sky maps (ring background)",
    "sed": "Spectral energy distribution",
    "light_curve": "Light curve",
}


def to_jsonable(value):
    """Numbers, strings, lists and dicts only; NaN and inf become None (valid JSON)."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def figure_png(fig) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _exponent(value: float) -> int:
    return int(np.floor(np.log10(abs(value)))) if value and math.isfinite(value) else 0


def format_number(value, digits: int = 3) -> str:
    """A number for reading: ``digits`` significant digits, no trailing zeros, ``n/a``
    for None/NaN (``2.9999999999999996`` -> ``3``, ``1.2e-11`` -> ``1.2e-11``)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    return format(float(f"{float(value):.{digits}g}"), f".{digits}g")


def format_measurement(value, error, unit: str = "") -> str:
    """
    ``value ± error`` rounded by the error (two significant digits of the error), with a
    common power of ten when the numbers are large or small: ``2.92 ± 0.18``,
    ``(1.88 ± 0.26) × 10^-12 TeV-1 s-1 cm-2``.
    """
    unit = f" {unit}" if unit else ""
    if value is None or not math.isfinite(value):
        return "n/a"
    if error is None or not math.isfinite(error) or error <= 0:
        return f"{format_number(value)}{unit}"
    power = _exponent(value) if abs(_exponent(value)) >= 3 else 0
    v, e = value / 10**power, error / 10**power
    decimals = max(0, 1 - _exponent(e))
    text = f"{v:.{decimals}f} ± {e:.{decimals}f}"
    return f"({text}) × 10^{power}{unit}" if power else f"{text}{unit}"


def _row(key: str, value) -> str:
    return f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(value))}</td></tr>"


def _fmt(value, spec: str = ".3g") -> str:
    return "n/a" if value is None else format_number(value, int(spec.strip(".g") or 3))


def _summary_rows(s: dict) -> list[str]:
    t, zen, ul = s["target"], s["zenith_deg"], s["upper_limit"]
    return [
        _row("target", f"{t['name']} (RA {t['ra_deg']:.4f}°, Dec {t['dec_deg']:+.4f}°)"),
        _row("runs", ", ".join(str(o) for o in s["observations"])),
        _row("live time", f"{s['livetime_s'] / 3600:.2f} h ({s['livetime_s'] / 60:.1f} min)"),
        _row("zenith", f"{_fmt(zen['min'], '.2g')}° to {_fmt(zen['max'], '.2g')}°"),
        _row(
            "energy range", " to ".join(_fmt(e) for e in s.get("energy_range_TeV") or []) + " TeV"
        ),
        _row("N_on / N_off / alpha", f"{s['n_on']} / {s['n_off']} / {_fmt(s['alpha'])}"),
        _row("excess", f"{_fmt(s['excess'])}"),
        _row("significance (Li & Ma)", f"{_fmt(s['significance'])} σ"),
        _row("detected", _fmt(s["detected"])),
        _row(
            f"flux upper limit above {_fmt(ul.get('energy_threshold_TeV'))} TeV "
            f"({100 * ul.get('confidence_level', 0):.0f} % CL)",
            f"{_fmt(ul.get('flux_ul_cm-2_s-1'))} cm⁻² s⁻¹ ({_fmt(ul.get('flux_ul_crab'))} Crab)",
        ),
    ]


#: per-run table: (summary key, column title, format)
RUN_COLUMNS = (
    ("obs_id", "run", "{}"),
    ("start", "start (UTC)", "{}"),
    ("livetime_s", "live time [min]", "min"),
    ("zenith_deg", "zenith [°]", ".3g"),
    ("offset_deg", "offset [°]", ".2g"),
    ("safe_threshold_TeV", "safe threshold [TeV]", ".2g"),
    ("n_off_regions", "OFF regions", "{}"),
    ("n_on", "N_on", "{}"),
    ("n_off", "N_off", "{}"),
    ("alpha", "alpha", ".3g"),
    ("excess", "excess", ".3g"),
    ("significance", "significance [σ]", ".3g"),
)


def _cell(value, spec: str) -> str:
    if value is None:
        return "n/a"
    if spec == "min":
        return _fmt(value / 60)
    if spec == "{}":
        return str(value)
    return _fmt(value, spec)


def _runs_table(runs: list) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title, _ in RUN_COLUMNS)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(_cell(r.get(k), f))}</td>" for k, _, f in RUN_COLUMNS)
        + "</tr>"
        for r in runs
    )
    return f"<h2>Runs</h2><table class='runs'><tr>{head}</tr>{body}</table>"


def _unit_text(unit: str) -> str:
    """``1 / (TeV s cm2)`` -> ``TeV⁻¹ s⁻¹ cm⁻²`` (astropy's unicode format)."""
    import astropy.units as u

    if unit in ("", "dimensionless"):
        return ""
    try:
        return u.Unit(unit).to_string("unicode")
    except ValueError:
        return unit


def _fit_rows(fit: dict) -> list[str]:
    rows = []
    for name, p in fit.get("parameters", {}).items():
        unit = _unit_text(p["unit"])
        if p.get("frozen"):
            text = f"{format_number(p['value'])} {unit} (fixed)".replace("  ", " ")
        else:
            text = format_measurement(p["value"], p["error"], unit)
        rows.append(_row(name, text))
    return rows


def _method_rows(method: dict) -> list[str]:
    titles = {
        "dataset": "data set",
        "irf_type": "IRF kind",
        "irfs": "IRFs",
        "on_region": "ON region",
        "off_regions": "OFF regions (1D)",
        "safe_threshold": "safe energy threshold",
        "exclusion_regions": "exclusion regions",
        "skymap_background": "sky-map background",
    }
    rows = []
    for key, title in titles.items():
        value = method.get(key)
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value) or "none"
        if value is not None:
            rows.append(_row(title, value))
    return rows


def _tables(summary: dict) -> str:
    s = summary
    fit = s["spectral_fit"]
    e_range = " to ".join(_fmt(e) for e in fit.get("energy_range_TeV") or [])
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in s.get("notes") or [])
    return (
        (
            f"<div class='notes'><h2>Not done, or approximate</h2><ul>{notes}</ul></div>"
            if notes
            else ""
        )
        + f"<h2>Summary</h2><table>{''.join(_summary_rows(s))}</table>"
        + (_runs_table(s["runs"]) if s.get("runs") else "")
        + (
            f"<h2>Method</h2><table>{''.join(_method_rows(s['method']))}</table>"
            if s.get("method")
            else ""
        )
        + f"<h2>Spectral fit: {html.escape(str(fit.get('model')))}, {e_range} TeV "
        f"({'converged' if fit.get('success') else 'did not converge'})</h2>"
        f"<table>{''.join(_fit_rows(fit))}</table>"
    )


def _reproduce(summary: dict) -> str:
    command = summary.get("command")
    if not command:
        return ""
    config = json.dumps(to_jsonable(summary.get("config", {})), indent=2)
    return (
        "<h2>Reproduce</h2><p>With <code>config.json</code> (next to this page):</p>"
        f"<pre>{html.escape(command)} --config config.json</pre>"
        f"<details><summary>config.json</summary><pre>{html.escape(config)}</pre></details>"
    )


def render_html(summary: dict, images: Mapping[str, bytes]) -> str:
    """The report page: notes, summary, per-run and method tables, the fit, each figure
    as a ``data:image/png`` URI, and how to reproduce it."""
    figures = "".join(
        f"<h2>{html.escape(SECTIONS.get(name, name))}</h2><img alt='{html.escape(name)}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'/>"
        for name, png in images.items()
    )
    title = f"iactpipe quick look: {summary['target']['name']}"
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:auto}"
        "th{text-align:left;padding-right:2em}img{max-width:100%}"
        "table.runs td{text-align:right;padding:0 0.6em}table.runs{border-collapse:collapse}"
        "table.runs tr:nth-child(even){background:#f0f0f0}"
        ".notes{background:#fff3cd;padding:0.2em 1em;border-left:4px solid #e0a800}"
        "pre{background:#f6f6f6;padding:0.5em;white-space:pre-wrap}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        f"{_tables(summary)}{figures}{_reproduce(summary)}"
        f"<p>iactpipe {html.escape(str(summary['iactpipe_version']))}</p>"
        "</body></html>"
    )


def write_report(
    out_dir: Path | str,
    summary: dict,
    figures: Mapping,
    overwrite: bool = False,
    formats: tuple[str, ...] = ("png",),
) -> Path:
    """
    Write ``summary.json``, ``report.html`` and ``plots/<name>.<format>`` into
    ``out_dir``, atomically: everything goes into a temporary sibling directory that
    replaces ``out_dir`` when complete.

    Raises
    ------
    OutputExistsError
        ``out_dir`` exists and ``overwrite`` is False, or its parent does not exist.
    """
    out = Path(out_dir).expanduser().absolute()
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out}: output directory exists, use --overwrite to replace it")
    if not out.parent.is_dir():
        raise OutputExistsError(f"{out}: parent directory {out.parent} does not exist")
    with AtomicOutputFile(out, overwrite=overwrite) as atomic:
        tmp = atomic.temporary_path
        (tmp / "plots").mkdir(parents=True)
        images = {}
        for name, fig in figures.items():
            images[name] = figure_png(fig)
            (tmp / "plots" / f"{name}.png").write_bytes(images[name])
            for fmt in formats:
                if fmt != "png":
                    fig.savefig(tmp / "plots" / f"{name}.{fmt}", format=fmt)
        (tmp / "summary.json").write_text(json.dumps(to_jsonable(summary), indent=2))
        if "config" in summary:
            config = to_jsonable(summary["config"])
            (tmp / "config.json").write_text(json.dumps(config, indent=2))
        (tmp / "report.html").write_text(render_html(summary, images), encoding="utf-8")
    return out
