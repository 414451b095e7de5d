"""No saved widget in a notebook (reopened, JupyterLab would show "Error displaying widget: model not found"),
while progress bars still show as cells run."""
import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from grading.notebooks import RELEASED, SOURCE, WIDGET_VIEW, release_files, strip_widgets, widgets_of
from grading.sandbox import ROOT

COMMITTED = sorted([*SOURCE.glob("*.ipynb"), *RELEASED.glob("*.ipynb")])


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_committed_notebooks_hold_no_widget_views_or_state(path):
    assert widgets_of(json.loads(path.read_text(encoding="utf-8"))) == []


def test_generation_strips_saved_widgets_from_sources_and_release(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    notebook = json.loads((SOURCE / "04_flops.ipynb").read_text(encoding="utf-8"))
    view = {"model_id": "f00", "version_major": 2, "version_minor": 0}
    first_code = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    first_code["outputs"] = [{"output_type": "display_data", "metadata": {},
                              "data": {WIDGET_VIEW: view, "text/plain": "HBox(children=(...))"}},
                             {"output_type": "stream", "name": "stdout", "text": ["kept\n"]}]
    notebook["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    path = source / "04_flops.ipynb"
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    released = json.loads(release_files(source)["04_flops.ipynb"])
    assert widgets_of(released) == []
    assert strip_widgets(path) and not strip_widgets(path)
    stripped = json.loads(path.read_text(encoding="utf-8"))
    assert widgets_of(stripped) == [] and "widgets" not in stripped["metadata"]
    assert [o["output_type"] for o in next(c for c in stripped["cells"] if c["cell_type"] == "code")["outputs"]] \
        == ["stream"]


def run_in_kernel(code: str, tmp_path):
    """(the outputs of every message while a cell runs, the cell's outputs as saved) in a real kernel."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", store_widget_state=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    shown, output = [], client.output

    def record(outs, msg, display_id, cell_index):
        shown.append(msg["content"].get("data", {}))
        return output(outs, msg, display_id, cell_index)

    client.output = record
    client.execute(env={**os.environ, "PYTHONPATH": str(ROOT)})
    return shown, notebook.cells[0].outputs


def test_progress_shows_a_widget_while_running_and_leaves_text(tmp_path):
    """In a kernel with ipywidgets (as in JupyterLab) the bar is a widget while it runs; the saved notebook
    holds only its last line of text."""
    shown, outputs = run_in_kernel("from llmlab.progress import progress\n"
                                   "for i in progress(range(3), desc='steps'):\n"
                                   "    pass\n"
                                   "print('done', i)", tmp_path)
    assert any(WIDGET_VIEW in data for data in shown), "no widget was shown while running"
    assert not [o for o in outputs if WIDGET_VIEW in o.get("data", {})], outputs
    texts = [o.data["text/plain"] for o in outputs if o.output_type == "display_data"]
    assert len(texts) == 1 and texts[0].startswith("steps: 100%") and "3/3" in texts[0], outputs
    assert outputs[-1].text == "done 2\n"


def test_progress_updated_by_hand_without_leave_leaves_nothing(tmp_path):
    shown, outputs = run_in_kernel("from llmlab.progress import progress\n"
                                   "bar = progress(total=2, desc='tests', leave=False)\n"
                                   "bar.update(); bar.update(); bar.close()\n"
                                   "print('ok')", tmp_path)
    assert any(WIDGET_VIEW in data for data in shown), "no widget was shown while running"
    assert [o.get("data", {}).get("text/plain", o.get("text")) for o in outputs] == ["", "ok\n"], outputs
