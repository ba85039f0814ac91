"""The HTML report (:func:`pmtheory.report.report_to_html`, ``pmtheory verify --html``).

Three layers:

- the page as text, rendered from hand-built reports (no check runs);
- ``verify --html`` in-process against a probe paper with one check and one figure;
- the page of a real run (every claim, every figure) loaded in headless Chromium: the DOM after
  the page's script has run must hold every claim ID and every figure, the paper and verdict
  filters must hide what they should, and the screenshot must not be blank.

Chromium is the Debian package ``chromium``; .ci/run installs it when missing and sets
PMTHEORY_REQUIRE_CHROMIUM=1, so there the browser tests fail rather than skip without it.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pmtheory import claims, cli, figures
from pmtheory.claims import HOLDS, REFUTED, ClaimOutcome, Report, holds, refuted
from pmtheory.claims.registry import pmtheory_version
from pmtheory.papers import Paper
from pmtheory.report import ReportFigure, report_to_html

# The smallest valid PNG: one transparent pixel.
ONE_PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")

LONG_NOTE = "a long evidence note " * 60


class Elements(HTMLParser):
    """Every start tag of a page, as (tag, attributes), and the text inside elements by id."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.text_by_id: dict[str, str] = {}
        self._open_ids: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if "id" in attributes and tag in ("span", "p"):
            self._open_ids.append(attributes["id"])
            self.text_by_id.setdefault(attributes["id"], "")

    def handle_endtag(self, tag):
        if tag in ("span", "p") and self._open_ids:
            self._open_ids.pop()

    def handle_data(self, data):
        for element_id in self._open_ids:
            self.text_by_id[element_id] += data

    def find(self, tag: str, **wanted) -> list[dict]:
        return [attributes for name, attributes in self.elements
                if name == tag and all(attributes.get(key.replace("_", "-")) == value for key, value in wanted.items())]


def outcome(claim_id, verdict, **fields) -> ClaimOutcome:
    defaults = dict(condition=None, methods=("exact",), evidence={}, counterexample=None, seconds=0.5, backing="proof",
                    where="§1", statement=f"the statement of {claim_id}")
    defaults.update(fields)
    return ClaimOutcome(id=claim_id, verdict=verdict, **defaults)


def small_report() -> Report:
    counterexample = refuted({"inputs": {"x": 2}, "predicted": 3, "computed": 2,
                              "recheck": {"method": "exact rational arithmetic", "computed": "2", "agrees": True}})
    return Report("9.9.9", [
        outcome("PMR-T1", HOLDS, evidence={"note": LONG_NOTE}),
        outcome("PMR-A3", REFUTED, counterexample=counterexample.counterexample,
                statement="x < y & <script>alert('no')</script>"),
        outcome("MOD-P1", HOLDS),
    ], provenance={"mode": "quick", "mutants": False, "pmtheory_version": "9.9.9", "seeds": "fixed",
                   "versions": {"numpy": "2.0.0"}, "platform": "Linux", "started_utc": "2026-01-01T00:00:00+00:00",
                   "seconds": 1.5})


PAPERS = [Paper("PMR", "The PM paper", "Doe (2026), arXiv 0000.00001",
                [{"id": "PMR-T1", "statement": "s", "method": "exact"}]),
          Paper("MOD", "The MOD paper", "Roe (2026), arXiv 0000.00002",
                [{"id": "MOD-P1", "statement": "s", "method": "exact"}])]


class TestPage:
    def test_every_claim_has_a_row_and_a_record(self):
        page = Elements(report_to_html(small_report()))
        for claim_id, verdict, prefix in (("PMR-T1", HOLDS, "PMR"), ("PMR-A3", REFUTED, "PMR"),
                                          ("MOD-P1", HOLDS, "MOD")):
            assert page.find("tr", data_id=claim_id, data_verdict=verdict, data_paper=prefix)
            assert page.find("section", id=f"claim-{claim_id}", data_verdict=verdict, data_paper=prefix)
            assert page.find("a", href=f"#claim-{claim_id}")

    def test_filters_offer_the_papers_and_the_verdicts_that_occur(self):
        text = report_to_html(small_report())
        assert '<option value="PMR">PMR</option><option value="MOD">MOD</option>' in text
        assert '<option value="holds">holds (2)</option><option value="refuted">refuted (1)</option></select>' in text

    def test_text_is_escaped(self):
        text = report_to_html(small_report())
        assert "<script>alert" not in text
        assert "x &lt; y &amp; &lt;script&gt;alert(&#x27;no&#x27;)&lt;/script&gt;" in text

    def test_records_are_whole(self):
        assert LONG_NOTE.strip() in report_to_html(small_report())

    def test_provenance_and_papers(self):
        text = report_to_html(small_report(), papers=PAPERS)
        assert "<li>Run: quick run; started 2026-01-01T00:00:00+00:00 (UTC), took 1.50 s.</li>" in text
        assert "<li>Versions: numpy 2.0.0.</li>" in text
        assert "<li><b>PMR</b>: The PM paper. Doe (2026), arXiv 0000.00001.</li>" in text
        assert "Paper: The PM paper - Doe (2026), arXiv 0000.00001" in text  # in each PMR record

    def test_figures_are_embedded_and_linked_from_their_claims(self):
        figure = ReportFigure("pmr-probe", "a probe", ("PMR-T1",), "PMR", png=ONE_PIXEL_PNG)
        page = Elements(report_to_html(small_report(), figures=[figure], figures_note="One figure."))
        (image,) = page.find("img")
        assert base64.b64decode(image["src"].removeprefix("data:image/png;base64,")) == ONE_PIXEL_PNG
        assert page.find("figure", id="figure-pmr-probe", data_paper="PMR")
        assert page.find("a", href="#figure-pmr-probe")

    def test_a_figure_that_failed_shows_why(self):
        figure = ReportFigure("pmr-probe", "a probe", ("PMR-T1",), "PMR", error="ValueError: no data")
        text = report_to_html(small_report(), figures=[figure])
        assert '<p class="figure-error">Not made: ValueError: no data</p>' in text
        assert "<img" not in text

    def test_nothing_is_loaded_from_elsewhere(self):
        figure = ReportFigure("pmr-probe", "a probe", ("PMR-T1",), "PMR", png=ONE_PIXEL_PNG)
        page = Elements(report_to_html(small_report(), figures=[figure], papers=PAPERS))
        for tag, attributes in page.elements:
            assert tag != "link", attributes
            for key in ("src", "href"):
                value = attributes.get(key, "")
                assert not value or value.startswith(("#", "data:")), (tag, attributes)

    def test_rejects_what_it_cannot_render(self):
        with pytest.raises(TypeError, match="report must be"):
            report_to_html({"claims": []})
        with pytest.raises(TypeError, match="figures must be pmtheory.report.ReportFigure"):
            report_to_html(small_report(), figures=[{"name": "x"}])


# ---------------------------------------------------------------------------------------
# verify --html, in-process, against a probe paper
# ---------------------------------------------------------------------------------------


@pytest.fixture
def probe(monkeypatch):
    """A registry holding only a probe paper with one check (ZZ-1) and one figure (zz-line);
    ``probe["figure"]`` can be set to a function that replaces the figure's drawing."""
    paper = Paper("ZZ", "A probe paper", "nobody (2026)",
                  [{"id": "ZZ-1", "statement": "a line is straight", "method": "figure"},
                   {"id": "ZZ-2", "statement": "no figure shows this", "method": "exact"}])
    registry = claims.Registry([paper])
    monkeypatch.setattr(claims, "default_registry", lambda: registry)
    state = {"figure": None, "checks_run": 0}

    @paper.check("ZZ-1")
    def check_one(*, quick):
        state["checks_run"] += 1
        return holds({"points": 2}, "a probe")

    @paper.check("ZZ-2")
    def check_two(*, quick):
        state["checks_run"] += 1
        return holds({}, "a probe")

    @paper.figure("zz-line", claims=("ZZ-1",), title="a line")
    def make(out_dir, *, quick):
        if state["figure"] is not None:
            state["figure"]()
        fig, ax = figures.new_figure()
        ax.plot([0, 1], [0, 1])
        return figures.save_figure(fig, out_dir, "zz-line")

    return state


def run(argv, capsys):
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


class TestVerifyHtml:
    def test_writes_the_page_with_the_figure(self, probe, capsys, tmp_path):
        path = tmp_path / "out" / "report.html"
        status, _, err = run(["verify", "--quick", "--html", str(path)], capsys)
        assert status == 0, err
        page = Elements(path.read_text(encoding="utf-8"))
        assert page.find("tr", data_id="ZZ-1") and page.find("tr", data_id="ZZ-2")
        (image,) = page.find("img")
        png = base64.b64decode(image["src"].removeprefix("data:image/png;base64,"))
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
        assert "figure [1/1] zz-line" in err and f"wrote {path}" in err

    def test_only_the_figures_of_the_selected_claims(self, probe, capsys, tmp_path):
        path = tmp_path / "report.html"
        status, _, err = run(["verify", "ZZ-2", "--html", str(path)], capsys)
        assert status == 0, err
        text = path.read_text(encoding="utf-8")
        assert "<img" not in text and "No figure illustrates the claims above." in text

    def test_no_figures(self, probe, capsys, tmp_path):
        path = tmp_path / "report.html"
        status, _, err = run(["verify", "--html", str(path), "--no-figures"], capsys)
        assert status == 0, err
        text = path.read_text(encoding="utf-8")
        assert "<img" not in text and "Figures were not made (--no-figures)." in text

    @pytest.mark.parametrize("argv, message", [
        (["verify", "--no-figures"], "--no-figures applies to --html only"),
        (["verify", "--list", "--html", "x.html"], "--list runs no check, so --html has nothing to do"),
    ])
    def test_usage_errors(self, probe, capsys, argv, message):
        status, _, err = run(argv, capsys)
        assert status == 2 and message in err and probe["checks_run"] == 0

    def test_an_unwritable_path_fails_before_any_check(self, probe, capsys, tmp_path):
        (tmp_path / "file").write_text("")
        status, _, err = run(["verify", "--html", str(tmp_path / "file" / "report.html")], capsys)
        assert status == 2 and "--html" in err and probe["checks_run"] == 0

    def test_a_figure_that_fails_is_shown_and_exits_1(self, probe, capsys, tmp_path):
        def broken():
            raise ValueError("no data to plot")

        probe["figure"] = broken
        path = tmp_path / "report.html"
        status, _, err = run(["verify", "--html", str(path)], capsys)
        assert status == 1
        assert "figure zz-line failed: ValueError: no data to plot" in err
        assert "Not made: ValueError: no data to plot" in path.read_text(encoding="utf-8")

    def test_ctrl_c_while_making_figures(self, probe, capsys, tmp_path):
        def interrupt():
            raise KeyboardInterrupt

        probe["figure"] = interrupt
        path = tmp_path / "report.html"
        status, _, err = run(["verify", "--html", str(path)], capsys)
        assert status == 130 and "Traceback" not in err
        assert err.strip().endswith(f"interrupted while making the figures; wrote {path}")
        text = path.read_text(encoding="utf-8")
        assert "The run was interrupted while making the figures; 0 were made." in text
        assert Elements(text).find("tr", data_id="ZZ-1")


# ---------------------------------------------------------------------------------------
# The page of a real run in headless Chromium
# ---------------------------------------------------------------------------------------

# Flags for a sandbox with no network, run as root (the machine notes: without the
# background-networking flags Chromium keeps trying to reach Google's hosts).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    message = "headless Chromium is not installed (Debian: apt-get install chromium)"
    if os.environ.get("PMTHEORY_REQUIRE_CHROMIUM"):
        pytest.fail(message + "; PMTHEORY_REQUIRE_CHROMIUM is set, as .ci/run sets it after installing it")
    pytest.skip(message)


def browse(path: Path, profile: Path, *flags: str, fragment: str = "") -> str:
    """Chromium's stdout for ``path`` (with ``#fragment``) under ``flags``; fails on a non-zero exit."""
    result = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags,
                             path.resolve().as_uri() + (f"#{fragment}" if fragment else "")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def real_page(quick_outcomes, every_figure_quick, tmp_path_factory):
    """The HTML page of every claim's quick check and every figure, as ``verify --html`` builds it."""
    registry = claims.default_registry()
    report = Report(pmtheory_version(), list(quick_outcomes(list(registry.ids)).values()))
    written, _ = every_figure_quick
    specs = registry.figures()
    embedded = [ReportFigure(path.stem, specs[name].title, specs[name].claims, specs[name].paper,
                             png=path.read_bytes())
                for name, paths in sorted(written.items()) for path in paths if path.suffix == ".png"]
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(report_to_html(report, figures=embedded, papers=registry.papers), encoding="utf-8")
    return path, report, embedded


class TestInChromium:
    def test_every_claim_and_every_figure_is_in_the_dom(self, real_page, tmp_path):
        path, report, embedded = real_page
        dom = Elements(browse(path, tmp_path, "--dump-dom"))
        for claim in report.claims:
            (row,) = dom.find("tr", data_id=claim.id)
            assert row["data-verdict"] == claim.verdict and "hidden" not in row
            assert dom.find("section", id=f"claim-{claim.id}")
        assert len(embedded) == len(figures.figure_names()) >= 13
        for figure in embedded:
            (element,) = dom.find("figure", id=f"figure-{figure.name}")
            (image,) = [attributes for tag, attributes in dom.elements
                        if tag == "img" and attributes.get("alt", "").startswith(f"{figure.name}:")]
            assert base64.b64decode(image["src"].removeprefix("data:image/png;base64,")) == figure.png
        assert dom.text_by_id["shown-count"] == f"showing {len(report.claims)} of {len(report.claims)} claims"

    @pytest.mark.parametrize("fragment", ["verdict=refuted", "paper=IIA", "paper=MOD&verdict=holds"])
    def test_the_filters_hide_what_they_should(self, real_page, tmp_path, fragment):
        path, report, _ = real_page
        wanted = dict(part.split("=") for part in fragment.split("&"))
        dom = Elements(browse(path, tmp_path, "--dump-dom", fragment=fragment))

        def selected(claim) -> bool:
            return (wanted.get("paper", claim.id.split("-")[0]) == claim.id.split("-")[0]
                    and wanted.get("verdict", claim.verdict) == claim.verdict)

        shown = [claim.id for claim in report.claims if selected(claim)]
        assert shown, f"the filter {fragment} selects nothing; pick one that selects some claims"
        for claim in report.claims:
            (row,) = dom.find("tr", data_id=claim.id)
            (record,) = dom.find("section", id=f"claim-{claim.id}")
            assert ("hidden" not in row) == selected(claim), claim.id
            assert ("hidden" not in record) == selected(claim), claim.id
        assert dom.text_by_id["shown-count"] == f"showing {len(shown)} of {len(report.claims)} claims"
        if "paper" in wanted:
            for tag, attributes in dom.elements:
                if tag == "figure":
                    assert ("hidden" not in attributes) == (attributes["data-paper"] == wanted["paper"])

    def test_the_screenshot_is_not_blank(self, real_page, tmp_path):
        import matplotlib.image

        path, _, _ = real_page
        screenshot = tmp_path / "page.png"
        browse(path, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1280,1600")
        pixels = matplotlib.image.imread(io.BytesIO(screenshot.read_bytes()), format="png")
        assert pixels.shape[:2] == (1600, 1280)
        # Text, table rules and coloured verdicts: far more than one colour, and not mostly empty.
        grey = pixels[..., :3].mean(axis=2)
        assert (grey < 0.5).mean() > 0.01 and len({round(float(v), 2) for v in grey.ravel()[::97]}) > 10
