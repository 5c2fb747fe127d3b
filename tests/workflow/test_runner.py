"""The runner's resume, force, failure and run-selection logic on fast fake steps (a small
Python script that concatenates its inputs and its config into its output)."""

import os
from pathlib import Path

import pytest

from iactpipe.workflow import ChainRunner, LocalExecutor, Step, StepGraph, summary_table

FAKE_TOOL = """
import sys
from pathlib import Path

args = sys.argv[1:]
args.remove("--overwrite")
config = ""
if "--config" in args:
    i = args.index("--config")
    config = Path(args[i + 1]).read_text()
    del args[i : i + 2]
output = args[0]
# like iactpipe-index over a directory: the inputs that exist
inputs = [p for p in args[1:] if Path(p).exists()]
text = "".join(Path(p).read_text() for p in inputs)
for p in inputs:
    if "BAD" in Path(p).read_text():
        print(f"ERROR [fake] {p}: corrupted input", file=sys.stderr)
        sys.exit(2)
print("fake tool writes", output)
Path(output).write_text(text + config)
"""


@pytest.fixture
def chain(tmp_path):
    """``(make_graph, root, raw)``: a graph factory over raw inputs ``raw/a.txt``, ``b.txt``.

    a -> stereo a;  b -> stereo b;  train <- both stereo (all required);
    index <- both stereo (at least one required)
    """
    script = tmp_path / "fake_tool.py"
    script.write_text(FAKE_TOOL)
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in "ab":
        (raw / f"{name}.txt").write_text(f"raw {name}\n")
    root = tmp_path / "out"

    def make_graph(configs=None, gate=None):
        configs = configs or {}

        def step(name, stage, inputs, output, deps=(), **kw):
            return Step(
                name,
                stage,
                "python",
                [str(script), output, *map(str, inputs)],
                [Path(p) for p in inputs],
                [Path(output)],
                configs.get(name),
                list(deps),
                label=str(inputs[0]),
                **kw,
            )

        steps = [
            step("r0-dl1 a", "r0-dl1", [raw / "a.txt"], "dl1/a.txt"),
            step("r0-dl1 b", "r0-dl1", [raw / "b.txt"], "dl1/b.txt"),
            step("dl1-stereo a", "dl1-stereo", ["dl1/a.txt"], "st/a.txt", ["r0-dl1 a"]),
            step("dl1-stereo b", "dl1-stereo", ["dl1/b.txt"], "st/b.txt", ["r0-dl1 b"], gate=gate),
            step(
                "train",
                "train",
                ["st/a.txt", "st/b.txt"],
                "models.txt",
                ["dl1-stereo a", "dl1-stereo b"],
            ),
            step(
                "index",
                "index",
                ["st/a.txt", "st/b.txt"],
                "index.txt",
                ["dl1-stereo a", "dl1-stereo b"],
                require_all=False,
            ),
        ]
        return StepGraph(steps)

    return make_graph, root, raw


def run(graph, root, **kw):
    runner = ChainRunner(graph, root, progress=False, **kw)
    return {o.step.name: o for o in runner.run(LocalExecutor(jobs=2))}


def statuses(outcomes):
    return {name: o.status for name, o in outcomes.items()}


def test_second_run_skips_everything_and_config_change_reruns_dependents(chain):
    make_graph, root, _ = chain
    first = run(make_graph(), root)
    assert set(statuses(first).values()) == {"ok"}
    assert (root / "models.txt").read_text() == "raw a\nraw b\n"
    # the record, the log and the config copy sit next to the output
    assert (root / "dl1/a.txt.step.json").is_file()
    assert "fake tool writes" in (root / "dl1/a.txt.log").read_text()
    second = run(make_graph(), root)
    assert set(statuses(second).values()) == {"up to date"}
    third = run(make_graph(configs={"dl1-stereo b": "cleaning: 5\n"}), root)
    rerun = {name for name, o in third.items() if o.status == "ok"}
    assert rerun == {"dl1-stereo b", "train", "index"}
    assert (root / "st/b.txt.config.yaml").read_text() == "cleaning: 5\n"
    assert (root / "models.txt").read_text() == "raw a\nraw b\ncleaning: 5\n"


def test_touched_input_and_force_rerun_downstream_only(chain):
    make_graph, root, raw = chain
    run(make_graph(), root)
    stat = (raw / "a.txt").stat()
    os.utime(raw / "a.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    touched = run(make_graph(), root)
    assert {n for n, o in touched.items() if o.status == "ok"} == {
        "r0-dl1 a",
        "dl1-stereo a",
        "train",
        "index",
    }
    forced = run(make_graph(), root, force=["dl1-stereo"])
    assert {n for n, o in forced.items() if o.status == "ok"} == {
        "dl1-stereo a",
        "dl1-stereo b",
        "train",
        "index",
    }
    assert statuses(forced)["r0-dl1 a"] == "up to date"


def test_dry_run_plans_without_running(chain):
    make_graph, root, _ = chain
    plan = ChainRunner(make_graph(), root, progress=False).plan()
    assert {o.status for o in plan} == {"would run"}
    assert {o.step.name: o.reason for o in plan}["train"] == "upstream reruns"
    assert not root.exists()
    run(make_graph(), root)
    plan = ChainRunner(make_graph(), root, force=["train"], progress=False).plan()
    assert {o.step.name: o.status for o in plan} == {
        "r0-dl1 a": "up to date",
        "r0-dl1 b": "up to date",
        "dl1-stereo a": "up to date",
        "dl1-stereo b": "up to date",
        "train": "would run",
        "index": "up to date",
    }


def test_failure_stops_only_its_dependents(chain):
    make_graph, root, raw = chain
    (raw / "b.txt").write_text("BAD bytes\n")
    outcomes = run(make_graph(), root)
    assert statuses(outcomes) == {
        "r0-dl1 a": "ok",
        "r0-dl1 b": "failed",
        "dl1-stereo a": "ok",
        "dl1-stereo b": "skipped: upstream failed",
        "train": "skipped: upstream failed",
        "index": "ok",
    }
    failed = outcomes["r0-dl1 b"]
    assert failed.errors and str(raw / "b.txt") in failed.errors[0]
    # no record for a failed step: the next start retries it
    assert not (root / "dl1/b.txt.step.json").exists()
    assert "corrupted input" in (root / "dl1/b.txt.log").read_text()
    table = summary_table(list(outcomes.values()))
    row = table[list(table["step"]).index("r0-dl1 b")]
    assert row["status"] == "failed" and "corrupted input" in row["error"]
    assert (root / "index.txt").read_text() == "raw a\n"


def test_gate_skips_a_run_and_its_dependents(chain):
    make_graph, root, _ = chain
    outcomes = run(make_graph(gate=lambda root: "tel 22: dead pixels"), root)
    status = statuses(outcomes)
    assert status["dl1-stereo b"] == "skipped: bad quality (tel 22: dead pixels)"
    assert status["train"] == "skipped: bad quality (tel 22: dead pixels)"
    assert status["index"] == "ok" and status["dl1-stereo a"] == "ok"
    assert not any(o.failed for o in outcomes.values())


def test_graph_rejects_cycles_and_unknown_dependencies():
    import graphlib

    def step(name, deps):
        return Step(name, "train", "python", [], [], [Path(name)], deps=deps)

    with pytest.raises(ValueError, match="unknown steps"):
        StepGraph([step("a", ["b"])])
    with pytest.raises(graphlib.CycleError):
        StepGraph([step("a", ["b"]), step("b", ["a"])])
    graph = StepGraph([step("a", []), step("b", ["a"]), step("c", ["b"]), step("d", [])])
    assert graph.dependents({"b"}) == {"b", "c"}
    assert graph.order.index("a") < graph.order.index("b") < graph.order.index("c")
