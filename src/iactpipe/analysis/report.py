"""
Quick-look report: the JSON summary (`SUMMARY_KEYS`) and one self-contained HTML page
whose figures are base64-embedded PNGs, so that it can be mailed or opened offline.
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

__all__ = ["SUMMARY_KEYS", "figure_png", "render_html", "to_jsonable", "write_report"]

#: keys every summary.json has (the interface iactpipe-chain and scripts read)
SUMMARY_KEYS = ("target", "observations", "livetime_s", "zenith_deg", "n_on", "n_off", "alpha",
                "excess", "significance", "detected", "spectral_fit", "flux_points",
                "light_curve", "upper_limit", "iactpipe_version", "config")  # fmt: skip

#: figure name -> section title of the report, in page order
SECTIONS = {"theta2": "Theta² distribution", "significance": "Significance vs live time",
            "skymaps": "Sky maps (ring background)", "sed": "Spectral energy distribution",
            "light_curve": "Light curve"}  # fmt: skip


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


def _row(key: str, value) -> str:
    return f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(value))}</td></tr>"


def _fmt(value, spec: str = ".3g") -> str:
    return "n/a" if value is None else format(value, spec)


def _tables(summary: dict) -> str:
    s = summary
    rows = [_row("target", f"{s['target']['name']} (RA {s['target']['ra_deg']:.4f}, "
                           f"Dec {s['target']['dec_deg']:+.4f} deg)"),
            _row("observations", ", ".join(str(o) for o in s["observations"])),
            _row("live time", f"{s['livetime_s'] / 3600:.3f} h ({s['livetime_s']:.1f} s)"),
            _row("zenith", f"{_fmt(s['zenith_deg']['min'], '.1f')}-"
                           f"{_fmt(s['zenith_deg']['max'], '.1f')} deg"),
            _row("N_on / N_off / alpha", f"{s['n_on']} / {s['n_off']} / {_fmt(s['alpha'])}"),
            _row("excess", _fmt(s["excess"], ".1f")),
            _row("significance (Li & Ma)", f"{_fmt(s['significance'], '.2f')} sigma"),
            _row("detected", s["detected"])]  # fmt: skip
    ul = s["upper_limit"]
    rows.append(_row(f"flux upper limit > {_fmt(ul.get('energy_threshold_TeV'))} TeV "
                     f"({100 * ul.get('confidence_level', 0):.0f} % CL)",
                     f"{_fmt(ul.get('flux_ul_cm-2_s-1'))} cm-2 s-1 "
                     f"({_fmt(ul.get('flux_ul_crab'))} Crab)"))  # fmt: skip
    fit = s["spectral_fit"]
    fit_rows = [_row(f"{name} [{p['unit']}]", f"{_fmt(p['value'])} ± {_fmt(p['error'])}"
                     + (" (fixed)" if p.get("frozen") else ""))
                for name, p in fit.get("parameters", {}).items()]  # fmt: skip
    return (f"<h2>Summary</h2><table>{''.join(rows)}</table>"
            f"<h2>Spectral fit: {html.escape(str(fit.get('model')))} (success "
            f"{fit.get('success')}, {html.escape(str(fit.get('energy_range_TeV')))} TeV)</h2>"
            f"<table>{''.join(fit_rows)}</table>")  # fmt: skip


def render_html(summary: dict, images: Mapping[str, bytes]) -> str:
    """The report page: summary tables, then each figure as a ``data:image/png`` URI."""
    figures = "".join(
        f"<h2>{html.escape(SECTIONS.get(name, name))}</h2><img alt='{html.escape(name)}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'/>"
        for name, png in images.items()
    )
    title = f"iactpipe quick look: {summary['target']['name']}"
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto}"
             "th{text-align:left;padding-right:2em}img{max-width:100%}")  # fmt: skip
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
            f"{_tables(summary)}{figures}<p>iactpipe {summary['iactpipe_version']}</p>"
            "</body></html>")  # fmt: skip


def write_report(out_dir: Path | str, summary: dict, figures: Mapping, overwrite: bool = False,
                 formats: tuple[str, ...] = ("png",)) -> Path:  # fmt: skip
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
        (tmp / "report.html").write_text(render_html(summary, images), encoding="utf-8")
    return out
