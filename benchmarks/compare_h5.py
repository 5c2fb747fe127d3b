"""Differential check of two HDF5 files: the same nodes, every array and table equal bit
for bit (NaN equal to NaN), the same user attributes (those that change from run to run
left out: dates, times, provenance, product ids).

For a speed change of the simulator that must keep its output: make the files with the
old and the new tree and the same seed, then compare them, e.g.

    PYTHONPATH=<old tree>/src .venv/bin/iactpipe-simulate \\
        --config data_configs/simulate_mc_gamma.yaml -n 300 -o old/gamma.h5
    PYTHONPATH=src .venv/bin/iactpipe-simulate \\
        --config data_configs/simulate_mc_gamma.yaml -n 300 -o new/gamma.h5
    .venv/bin/python benchmarks/compare_h5.py old/gamma.h5 new/gamma.h5

(likewise ``simulate_mc_proton.yaml`` and ``simulate_observation.yaml --duration "0.2 s"``,
one comparison per telescope file). Exit status 1 when anything differs.
"""

import sys

import numpy as np
import tables

#: attribute names containing these differ between two runs of the same config
VOLATILE = ("DATE", "TIME", "PROVENANCE", "ACTIVITY", "UUID", "PRODUCT ID", "CREATED", "OUTPUT")


def _user_attrs(node) -> dict:
    attrs = node._v_attrs
    return {
        k: attrs[k] for k in attrs._v_attrnamesuser if not any(v in k.upper() for v in VOLATILE)
    }


def same(x, y) -> bool:
    """Equal values: arrays of the same dtype and shape bit for bit (NaN == NaN),
    structured arrays field by field, anything else by ``==``."""
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype != y.dtype or x.shape != y.shape:
            return False
        if x.dtype.names:
            return all(same(x[name], y[name]) for name in x.dtype.names)
        return np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")
    try:
        return bool(x == y) or (x != x and y != y)
    except (TypeError, ValueError):
        return str(x) == str(y)


def differences(path_a, path_b) -> list[str]:
    """What differs between the two files (empty: the same)."""
    out = []
    with tables.open_file(path_a) as fa, tables.open_file(path_b) as fb:
        nodes_a = {n._v_pathname: n for n in fa.walk_nodes()}
        nodes_b = {n._v_pathname: n for n in fb.walk_nodes()}
        out += [f"{p}: only in one file" for p in sorted(set(nodes_a) ^ set(nodes_b))]
        for path in sorted(set(nodes_a) & set(nodes_b)):
            a, b = nodes_a[path], nodes_b[path]
            attrs_a, attrs_b = _user_attrs(a), _user_attrs(b)
            for key in sorted(set(attrs_a) | set(attrs_b)):
                if key not in attrs_a or key not in attrs_b or not same(attrs_a[key], attrs_b[key]):
                    out.append(f"{path}: attribute {key}")
            if isinstance(a, tables.Leaf) and not same(a.read(), b.read()):
                out.append(f"{path}: data")
    return out


def main():
    diff = differences(sys.argv[1], sys.argv[2])
    print("\n".join(diff) if diff else f"{sys.argv[1]} and {sys.argv[2]}: the same")
    sys.exit(1 if diff else 0)


if __name__ == "__main__":
    main()
