"""docs/design.md is the design in the repository: nothing cites the old design notes outside
it, every ``docs/design.md#<anchor>`` cited anywhere exists, and every named model has its
section with symbols and equations (structure only, not prose)."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "design.md"
TEXT = DESIGN.read_text(encoding="utf-8")

#: The old notes' file name, spelled so that this file does not cite it.
OLD_NOTES = "DESIGN" + ".md"
#: The one section of docs/design.md allowed to name them (capabilities not yet built).
CLOSING_SECTION = "extends"

#: Top-level sections, in order, with the anchors code cites.
SECTIONS = ["1-the-problem", "2-the-supply-model", "3-chokepoint-metrics", "4-optimisation-models",
            "5-incentives", "6-pipeline", "7-interfaces", "8-data", "9-horizons", "10-firms-and-facilities",
            "11-retaliation-and-verification", "12-uncertainty"]
#: Sections of the named models: each needs a symbols table and an equation block.
MODELS = ["2-the-supply-model", "41-capability-lp", "42-interdiction-milp", "43-heuristic-and-bounds",
          "44-leverage-frontier", "45-critical-nodes", "51-deterrence-margin", "52-race-game", "53-deter-all",
          "54-recruitment", "55-sensitivity", "9-horizons", "12-uncertainty"]

HEADING = re.compile(r"^(#{1,6}) +(.+?) *#*$", re.M)
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
#: ``docs/design.md#<anchor>`` anywhere, also as a relative link (``design.md#<anchor>`` from docs/).
CITATION = re.compile(r"(?<![A-Za-z0-9_])design\.md#([A-Za-z0-9_-]+)")
#: Repository paths named in backticks in the design (modules and folders it points to).
REPO_PATH = re.compile(r"`((?:graph|optimization|chokepoint|pipelines|tests|data|bench)/[A-Za-z0-9_./*<>-]*)`")
SYMBOLS_TABLE = re.compile(r"^\*\*Symbols\*\*\s*\n\s*\n\| *symbol *\|", re.M)


def github_anchor(title: str) -> str:
    """GitHub's heading anchor: lowercase, punctuation dropped (letters, digits, '-', '_' and
    spaces kept), spaces turned into '-'. Markdown code spans lose their backticks."""
    text = title.strip().lower().replace("`", "")
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def headings(text: str) -> list[tuple[int, str, str, int]]:
    """(level, title, anchor, offset) of every heading outside fenced code blocks."""
    fenced = [(m.start(), m.end()) for m in FENCE.finditer(text)]
    found, seen = [], {}
    for m in HEADING.finditer(text):
        if any(a <= m.start() < b for a, b in fenced):
            continue
        anchor = github_anchor(m.group(2))
        if anchor in seen:                       # GitHub numbers repeated anchors
            seen[anchor] += 1
            anchor = f"{anchor}-{seen[anchor]}"
        else:
            seen[anchor] = 0
        found.append((len(m.group(1)), m.group(2), anchor, m.start()))
    return found


HEADINGS = headings(TEXT)
ANCHORS = {anchor for _, _, anchor, _ in HEADINGS}


def section(anchor: str) -> str:
    """The text of a section up to the next heading of the same or a higher level."""
    for i, (level, _, name, start) in enumerate(HEADINGS):
        if name == anchor:
            end = next((s for lv, _, _, s in HEADINGS[i + 1:] if lv <= level), len(TEXT))
            return TEXT[start:end]
    raise AssertionError(f"docs/design.md has no section #{anchor}")


def project_files() -> list[Path]:
    """Tracked files plus new ones not ignored (so a citation is checked before its commit)."""
    try:
        listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                                 "--exclude-standard"], capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return sorted({ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()})


def read_text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    out = {}
    for path in project_files():
        text = read_text(path)
        if text is not None:
            out[path.relative_to(ROOT).as_posix()] = text
    return out


def test_nothing_outside_the_design_cites_the_old_notes(texts):
    offenders = [f"{name}:{text.count(OLD_NOTES)}" for name, text in texts.items()
                 if name != "docs/design.md" and OLD_NOTES in text]
    assert not offenders, f"cite docs/design.md#<anchor> instead of {OLD_NOTES}: {offenders}"


def test_the_design_names_the_old_notes_only_in_its_closing_section():
    closing = section(CLOSING_SECTION)
    assert TEXT.count(OLD_NOTES) == closing.count(OLD_NOTES) == 1
    assert HEADINGS[-1][2] == CLOSING_SECTION, "the notes on what is not yet built close the document"


def test_every_cited_anchor_exists(texts):
    cited = {}
    for name, text in texts.items():
        for m in CITATION.finditer(text):
            cited.setdefault(m.group(1), []).append(f"{name}:{text.count(chr(10), 0, m.start()) + 1}")
    # In-page links of the design itself: [..](#anchor)
    for m in re.finditer(r"\]\(#([A-Za-z0-9_-]+)\)", TEXT):
        cited.setdefault(m.group(1), []).append(f"docs/design.md:{TEXT.count(chr(10), 0, m.start()) + 1}")
    missing = {anchor: where for anchor, where in cited.items() if anchor not in ANCHORS}
    assert not missing, f"cited anchors that docs/design.md does not have: {missing}"
    # Not vacuous: the modules that implement the incentive models cite their sections.
    assert {"2-the-supply-model", "3-chokepoint-metrics", "51-deterrence-margin"} <= set(cited)


def test_anchor_rule_matches_github():
    assert github_anchor("4.2 Interdiction MILP") == "42-interdiction-milp"
    assert github_anchor("5.3 Deter-all") == "53-deter-all"
    assert github_anchor("Schema `analytics`: model outputs") == "schema-analytics-model-outputs"


def test_numbered_sections_in_order():
    top = [anchor for level, _, anchor, _ in HEADINGS if level == 2]
    numbered = [a for a in top if a[0].isdigit()]
    assert numbered == SECTIONS


@pytest.mark.parametrize("anchor", MODELS)
def test_model_section_has_symbols_and_equations(anchor):
    text = section(anchor)
    assert SYMBOLS_TABLE.search(text), f"#{anchor}: no '**Symbols**' table (| symbol | meaning | …)"
    blocks = FENCE.findall(text)
    assert any(re.search(r"[=≤≥]", block) for block in blocks), f"#{anchor}: no equation block"
    modules = [p for p in REPO_PATH.findall(text) if p.endswith(".py")]
    assert modules, f"#{anchor}: names no module that implements it"


def test_paths_named_in_the_design_exist():
    missing = []
    for path in set(REPO_PATH.findall(TEXT)):
        if "<" in path:                                  # a placeholder: its folder must exist
            found = (ROOT / path.split("<")[0]).parent.exists()
        elif "*" in path:                                # a pattern: something must match
            found = any(ROOT.glob(path.rstrip("/")))
        else:
            found = (ROOT / path.rstrip("/")).exists()
        if not found:
            missing.append(path)
    assert not missing, f"docs/design.md names paths that do not exist: {sorted(missing)}"
