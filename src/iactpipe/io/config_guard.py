"""
The configuration-consistency check between stages, in one Component.

A stage whose input must have been made with the configuration it assumes (the DL1
image extraction and cleaning of stereo inputs, training files and the models applied
to DL1; the DL2 event selection of IRF cuts and DL3 events) compares fingerprints
(`iactpipe.io.config_fingerprint`) and asks its `ConfigGuard` what to do with a
mismatch: stop with one `InputFileError` naming the file and what differs, or, with
``--allow-config-mismatch`` (`ALLOW_CONFIG_MISMATCH_FLAG`, the one definition every
Tool merges into its ``flags``), log it as a warning and continue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ctapipe.core import Component
from ctapipe.core.traits import Bool, flag

from .errors import InputFileError

__all__ = ["ALLOW_CONFIG_MISMATCH_FLAG", "ConfigGuard"]

OPTION = "--allow-config-mismatch"

#: the differences named in a message before "(and N more)"
MAX_LISTED_DIFFERENCES = 10


class ConfigGuard(Component):
    """
    Refuse (or, when allowed, log) inputs made with another configuration.

    Every check builds one message: what differs and where, then how to override it
    (``; use --allow-config-mismatch to <action>``).
    """

    allow_config_mismatch = Bool(
        False,
        help=(
            "Continue, with a warning in the log, when an input was made with another "
            "configuration than the one this step needs (default: stop with an error)"
        ),
    ).tag(config=True)

    def mismatch(self, problem: str, action: str) -> None:
        """
        Handle one configuration mismatch.

        Parameters
        ----------
        problem : str
            What differs, starting with the file(s) concerned.
        action : str
            What ``--allow-config-mismatch`` does here (``"combine them"``).

        Raises
        ------
        InputFileError
            ``"<problem>; use --allow-config-mismatch to <action>"`` unless
            ``allow_config_mismatch``.
        """
        if not self.allow_config_mismatch:
            raise InputFileError(f"{problem}; use {OPTION} to {action}")
        self.log.warning("%s (allowed by %s)", problem, OPTION)

    def require_same(
        self,
        fingerprints: Mapping[str | Path, str | None],
        inputs: str,
        action: str,
        kind: str = "DL1",
    ) -> None:
        """
        Check that all inputs carry the same fingerprint (``None``: none stored).

        Parameters
        ----------
        fingerprints : Mapping[str or Path, str or None]
            ``{path: fingerprint}`` of the inputs.
        inputs : str
            What the inputs are, for the message (``"training files"``).
        action : str
            What ``--allow-config-mismatch`` does here.
        kind : str
            Which configuration the fingerprints are of.
        """
        if len(set(fingerprints.values())) <= 1:
            return
        listed = ", ".join(f"{p} ({(f or 'none')[:12]})" for p, f in fingerprints.items())
        self.mismatch(f"{inputs} made with different {kind} configurations: {listed}", action)

    def require_no_differences(self, differences: Sequence[str], problem: str, action: str):
        """
        Check that the settings of an input and of its consumer agree.

        Parameters
        ----------
        differences : Sequence[str]
            One ``"Class.trait: a != b"`` per differing setting (empty: they agree).
        problem : str
            The file and what its configuration is compared with; the message lists up to
            `MAX_LISTED_DIFFERENCES` differences after it.
        action : str
            What ``--allow-config-mismatch`` does here.
        """
        if not differences:
            return
        n_more = len(differences) - MAX_LISTED_DIFFERENCES
        listed = "; ".join(differences[:MAX_LISTED_DIFFERENCES]) + (
            f" (and {n_more} more)" if n_more > 0 else ""
        )
        self.mismatch(f"{problem}: {listed}", action)

    def require_fingerprint(
        self, found: str | None, expected: str, problem: str, action: str
    ) -> None:
        """
        Check that an input's stored fingerprint is the one of this step's configuration.

        Parameters
        ----------
        found : str or None
            The fingerprint stored in the input (``None``: none).
        expected : str
            The fingerprint of this step's configuration.
        problem : str
            The message when they differ (file and fingerprints).
        action : str
            What ``--allow-config-mismatch`` does here.
        """
        if found != expected:
            self.mismatch(problem, action)


#: the ``--allow-config-mismatch`` flag, merged into the ``flags`` of every Tool that
#: composes a `ConfigGuard`
ALLOW_CONFIG_MISMATCH_FLAG = flag(
    "allow-config-mismatch",
    "ConfigGuard.allow_config_mismatch",
    "Continue (warning in the log) when an input was made with another configuration",
    "Stop when an input was made with another configuration",
)
