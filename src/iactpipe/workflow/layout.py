"""
Where the chain puts its outputs: one directory per data level, then night, source
and telescope, every path relative to the output root (the steps run there, so the
paths written into files do not depend on where the output tree lives).
"""

from __future__ import annotations

from pathlib import Path

from ..dl3.index import HDU_INDEX_NAME, OBS_INDEX_NAME
from ..dl3.writer import dl3_file_name
from ..quality.selection import RUN_QUALITY_FILENAME

__all__ = ["OutputLayout", "level_path"]


def level_path(path: Path, level: str | None) -> Path:
    """``models`` -> ``models_nsb_<level>`` (unchanged for None): an NSB level's library."""
    return Path(path) if level is None else Path(path).with_name(f"{Path(path).name}_nsb_{level}")


class OutputLayout:
    """
    Output paths of the chain, relative to the output root.

    ::

        mc/<production>/<file>.dl1.h5, .stereo.dl1.h5, .dl2.h5
        dl1/<night>/<source>/tel_021/run<obs_id>_tel021.dl1.h5
        dl1/<night>/<source>/stereo/run<obs_id>.stereo.dl1.h5
        dl2/<night>/<source>/run<obs_id>.dl2.h5          (mono: .../tel_021/...)
        dl3/<night>/dl3_obs<obs_id>.fits.gz              (mono: dl3/tel_021/<night>/...)
        dl3/hdu-index.fits.gz, dl3/obs-index.fits.gz
        models/, irfs/, dqm/run_quality.ecsv, analysis/<source>/summary.json
    """

    @staticmethod
    def mc(production: str, stem: str, level: str) -> Path:
        """MC file of ``production`` at ``level`` (``dl1``, ``stereo.dl1``, ``dl2``)."""
        return Path("mc") / production / f"{stem}.{level}.h5"

    @staticmethod
    def run_dl1(night: str, source: str, obs_id: int, tel_id: int) -> Path:
        """Per-telescope DL1 of an observed run."""
        return (
            Path("dl1")
            / night
            / source
            / f"tel_{tel_id:03d}"
            / f"run{obs_id:06d}_tel{tel_id:03d}.dl1.h5"
        )

    @staticmethod
    def run_stereo(night: str, source: str, obs_id: int) -> Path:
        """Stereo DL1 of an observed run."""
        return Path("dl1") / night / source / "stereo" / f"run{obs_id:06d}.stereo.dl1.h5"

    @staticmethod
    def run_dl2(night: str, source: str, obs_id: int, tel_id: int | None = None) -> Path:
        """DL2 of an observed run (``tel_id`` for the mono branch)."""
        if tel_id is None:
            return Path("dl2") / night / source / f"run{obs_id:06d}.dl2.h5"
        return (
            Path("dl2")
            / night
            / source
            / f"tel_{tel_id:03d}"
            / f"run{obs_id:06d}_tel{tel_id:03d}.dl2.h5"
        )

    @staticmethod
    def dl3_root(tel_id: int | None = None) -> Path:
        """The DL3 tree that one index covers (one per telescope in the mono branch)."""
        return Path("dl3") if tel_id is None else Path("dl3") / f"tel_{tel_id:03d}"

    @classmethod
    def run_dl3(cls, night: str, obs_id: int, tel_id: int | None = None) -> Path:
        """DL3 file of an observed run (the name ``iactpipe-dl2-dl3`` gives it)."""
        return cls.dl3_root(tel_id) / night / dl3_file_name(obs_id)

    @classmethod
    def index_files(cls, tel_id: int | None = None) -> list[Path]:
        """HDU and OBS index of a DL3 tree."""
        root = cls.dl3_root(tel_id)
        return [root / HDU_INDEX_NAME, root / OBS_INDEX_NAME]

    @staticmethod
    def models(mode: str) -> Path:
        """Directory of the trained models."""
        return Path("models") if mode == "stereo" else Path("models_mono")

    @staticmethod
    def irfs(mode: str) -> Path:
        """IRF library directory."""
        return Path("irfs") if mode == "stereo" else Path("irfs_mono")

    @staticmethod
    def run_quality() -> Path:
        """The run-quality table written by the DQM step."""
        return Path("dqm") / RUN_QUALITY_FILENAME

    @staticmethod
    def analysis(source: str, tel_id: int | None = None) -> Path:
        """Directory of the quick-look analysis of ``source``."""
        name = source if tel_id is None else f"{source}_tel{tel_id:03d}"
        return Path("analysis") / name

    @staticmethod
    def record(output: Path, suffix: str) -> Path:
        """A chain file next to ``output``: ``<output>.step.json``, ``.log``, ``.config.yaml``."""
        return output.with_name(f"{output.name}.{suffix}")
