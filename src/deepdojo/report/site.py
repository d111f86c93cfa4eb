"""Build the static evidence site from the latest run of each lab.

Layout of ``site/``::

    index.html                   Q01..Q20 with their labs and verdict counts, and the labs
    questions/Q01.html ...       question, our answer, key points, evidence of every lab
    labs/<lab>/index.html        the lab's latest run (same page as the run folder's)
    labs/<lab>/figures/*.png     figures copied from the run folder
    labs/<lab>/result.json       the raw result
    static/search.js             the search box (vanilla JS)
    static/search-index.js       its index: questions, labs, claims, API names

Pages are static HTML with inline CSS and relative links only: they open from disk and load
nothing from the network. Formulas are drawn at build time (:mod:`~deepdojo.report.mathtext`);
the only script is the search box, and every page reads fine without it. The site is built in
a temp folder beside ``out_dir`` and swapped into place, so a failed build never leaves a
half-written site.

A lab whose answer has several parts (Q05's applications) records a ``sections`` table; its
evidence, on the question page and on its own page, is then grouped into those named sections,
each with its verdicts, figures and CPU time (format in :mod:`~deepdojo.report.runpage`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from deepdojo.answers import QUESTIONS
from deepdojo.labs import LabError
from deepdojo.report.evidence import (
    LabEvidence,
    api_available,
    check_runs_dir,
    gather,
    labs_for,
)
from deepdojo.report.history import history_view
from deepdojo.report.results import Warn
from deepdojo.report.runpage import now_text, render_run_page, run_view, sum_counts, template_env
from deepdojo.report.search import index_script, site_index
from deepdojo.utils import atomic_write_text

MARKER = ".deepdojo-site"  # marks a folder this builder may replace
STATIC_DIR = Path(__file__).resolve().parent / "static"


def build_site(
    runs_dir: str | Path = "runs", out_dir: str | Path = "site", *, warn: Warn | None = None
) -> Path:
    """Build the evidence site from ``runs_dir`` into ``out_dir``; return ``site/index.html``.

    Parameters
    ----------
    runs_dir : str or Path
        Folder holding ``<lab>/<run-id>/result.json``; the newest run of each lab is used.
    out_dir : str or Path
        Where the site goes. An existing folder is replaced only if it is empty or was built
        by this function (it holds a ``.deepdojo-site`` marker).
    warn : callable, optional
        ``warn(message)`` gets one line per run file that could not be used, or only partly
        (a truncated ``result.json``, a claim without a statement, ...); the site is built
        from the rest. Default: a :class:`~deepdojo.report.results.ResultWarning`.

    Raises
    ------
    deepdojo.labs.LabError
        (a ValueError) if ``runs_dir`` does not exist or ``out_dir`` is something else.
    """
    runs = check_runs_dir(runs_dir)
    out = Path(out_dir)
    _check_out_dir(out)
    labs = gather(runs, warn)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        generated = now_text()
        for lab in labs.values():
            if lab.result is not None:
                _write_lab(tmp, lab)
        for i, qid in enumerate(QUESTIONS):
            _write_question(tmp, qid, i, labs, generated)
        _write_index(tmp, labs, runs, generated)
        _write_static(tmp, labs)
        (tmp / MARKER).write_text("built by deepdojo.report.build_site\n", encoding="utf-8")
        _make_readable(tmp)
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "index.html"


def _write_static(tmp: Path, labs: dict[str, LabEvidence]) -> None:
    """The search box's script and its index."""
    (tmp / "static").mkdir()
    for src in STATIC_DIR.iterdir():
        if src.is_file() and src.suffix in (".js", ".css", ".svg"):
            shutil.copyfile(src, tmp / "static" / src.name)
    atomic_write_text(tmp / "static" / "search-index.js", index_script(site_index(labs)))


_URL = re.compile(r"https?://[^\s<>\"')]+[^\s<>\"').,;]")


def reference_view(ref: Any) -> dict[str, str]:
    """One entry of ``Question.references`` as ``{"text", "href", "note"}``.

    A reference is a citation string; a ``http(s)`` URL inside it becomes its link (a
    citation without one is shown as text). A ``(text, url[, note])`` tuple, a mapping or an
    object with ``title``/``url``/``note`` attributes is accepted too.
    """
    if isinstance(ref, str):
        text, note = ref, ""
        found = _URL.search(ref)
        href = found.group(0) if found else ""
    elif isinstance(ref, (tuple, list)):
        text, href, note = ([str(x) for x in ref] + ["", "", ""])[:3]
    else:
        def get(*names: str) -> str:
            for n in names:
                value = ref.get(n) if isinstance(ref, dict) else getattr(ref, n, None)
                if value:
                    return str(value)
            return ""

        href = get("url", "href", "link")
        text, note = get("title", "text", "label", "name") or href, get("status", "note")
    if not _URL.fullmatch(href):
        href = ""
    return {"text": text, "href": href, "note": note}


def api_view(q: Any) -> list[dict[str, Any]]:
    """The question's API names with their status: ``available``, ``coming`` (planned in an
    issue, not in this build yet) or ``missing``."""
    links = getattr(q, "links", None)
    if links is not None:
        return [{"name": a.name, "status": str(a.status), "available": a.status == "available"}
                for a in links]
    return [{"name": a, "available": api_available(a),
             "status": "available" if api_available(a) else "missing"} for a in q.api]


def _make_readable(root: Path) -> None:
    """mkdtemp and the atomic writes' temp files are private (0700/0600); a site is meant to be
    served or shared, so folders become 0755 and files 0644."""
    os.chmod(root, 0o755)
    for path in root.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise LabError(f"site folder {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise LabError(
            f"site folder {str(out)!r} exists and was not built by deepdojo; "
            "refusing to replace it (choose another --out)"
        )


def _swap(tmp: Path, out: Path) -> None:
    """Move the finished build into place; the old site is removed only afterwards."""
    if not out.exists():
        tmp.rename(out)
        return
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _copy_figures(lab: LabEvidence, dest: Path) -> None:
    """Copy the run's figures that exist (and lie inside the run folder) to ``dest``."""
    assert lab.run_dir is not None and lab.result is not None
    root = lab.run_dir.resolve()
    for fig in lab.result.get("figures", []):
        src = (lab.run_dir / str(fig.get("path", ""))).resolve()
        if root not in src.parents or not src.is_file():
            continue  # shown as missing on the page, never as a broken link
        target = dest / src.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)


def _lab_dir(tmp: Path, name: str) -> Path:
    return tmp / "labs" / name


def _write_lab(tmp: Path, lab: LabEvidence) -> None:
    assert lab.run_dir is not None and lab.result is not None
    dest = _lab_dir(tmp, lab.name)
    dest.mkdir(parents=True)
    _copy_figures(lab, dest)
    shutil.copyfile(lab.run_dir / "result.json", dest / "result.json")
    links = [{"id": q, "href": f"../../questions/{q}.html"} for q in lab.questions]
    page = render_run_page(
        lab.result, root="../../", question_links=links,
        fig_exists=lambda p: (dest / p).is_file(), stability=lab.stability,
        history=history_view(lab.runs),
    )
    atomic_write_text(dest / "index.html", page)


def _lab_entry(lab: LabEvidence, tmp: Path, prefix: str) -> dict[str, Any]:
    """What a question or index page shows about one lab; ``prefix`` leads to the site root."""
    entry: dict[str, Any] = {
        "name": lab.name,
        "summary": lab.summary,
        "questions": list(lab.questions),
        "registered": lab.registered,
        "href": None,
        "run": None,
    }
    if lab.result is not None:
        dest = _lab_dir(tmp, lab.name)
        entry["href"] = f"{prefix}labs/{lab.name}/index.html"
        entry["run"] = run_view(
            lab.result,
            fig_base=f"{prefix}labs/{lab.name}/",
            fig_exists=lambda p: (dest / p).is_file(),
            stability=lab.stability,
        )
    return entry


def _write_question(
    tmp: Path, qid: str, index: int, labs: dict[str, LabEvidence], generated: str
) -> None:
    q = QUESTIONS[qid]
    ids = list(QUESTIONS)
    entries = [_lab_entry(lab, tmp, "../") for lab in labs_for(qid, labs)]

    def link(i: int) -> dict[str, str] | None:
        if not 0 <= i < len(ids):
            return None
        return {"id": ids[i], "title": QUESTIONS[ids[i]].title, "href": f"{ids[i]}.html"}

    view = {
        "id": q.id,
        "title": q.title,
        "question": q.question,
        "answer": q.answer,
        "key_points": q.key_points,
        "api": api_view(q),
        "references": [reference_view(r) for r in getattr(q, "references", ()) or ()],
    }
    page = (
        template_env()
        .get_template("question.html")
        .render(
            q=view,
            labs=entries,
            counts=sum_counts([e["run"]["counts"] for e in entries if e["run"] is not None]),
            prev=link(index - 1),
            next=link(index + 1),
            root="../",
            generated=generated,
        )
    )
    atomic_write_text(tmp / "questions" / f"{qid}.html", page)


def _question_row(qid: str, labs: dict[str, LabEvidence], tmp: Path) -> dict[str, Any]:
    entries = [_lab_entry(lab, tmp, "") for lab in labs_for(qid, labs)]
    ran = [e["run"] for e in entries if e["run"] is not None]
    state = "no-lab" if not entries else ("not-run" if not ran else "run")
    return {
        "id": qid,
        "title": QUESTIONS[qid].title,
        "question": QUESTIONS[qid].question,
        "href": f"questions/{qid}.html",
        "labs": entries,
        "state": state,
        "counts": sum_counts([r["counts"] for r in ran]),
        "n_not_run": len(entries) - len(ran),
        "smoke": any(r["scale"] == "smoke" for r in ran),
    }


def _write_index(tmp: Path, labs: dict[str, LabEvidence], runs: Path, generated: str) -> None:
    rows = [_question_row(qid, labs, tmp) for qid in QUESTIONS]
    lab_entries = [_lab_entry(lab, tmp, "") for lab in labs.values()]
    ran = [e["run"] for e in lab_entries if e["run"] is not None]
    stats = {
        "answered": sum(r["state"] == "run" for r in rows),
        "counts": sum_counts([r["counts"] for r in ran]),
        "labs_run": len(ran),
        "labs_total": len(lab_entries),
        "smoke": sum(r["scale"] == "smoke" for r in ran),
    }
    page = (
        template_env()
        .get_template("index.html")
        .render(
            questions=rows,
            labs=lab_entries,
            stats=stats,
            runs_dir=str(runs),
            root="",
            generated=generated,
        )
    )
    atomic_write_text(tmp / "index.html", page)
