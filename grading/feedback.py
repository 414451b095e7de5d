"""What a student gets back: feedback.html (Chinese headings, English technical detail) and results.json in
Gradescope's autograder format. Both are built only from a grading result's public messages: never hidden test
code, never hidden expected values."""
import html
import json

from llmlab.tasks import BY_ID

STATUS = {  # status -> (mark, Chinese, English)
    "passed": ("✅", "通过", "passed"),
    "partial": ("🟡", "部分通过", "partly passed"),
    "failed": ("❌", "未通过", "failed"),
    "not implemented": ("⬜", "未实现", "not implemented"),
    "ungraded": ("➖", "未评分", "not graded"),
}


def task_output(task: dict) -> str:
    """The plain-text feedback of one task (also the `output` of its Gradescope test)."""
    lines = [f"{STATUS[task['status']][2]}: {task['score']:g} / {task['max']:g} points"]
    if task.get("tests"):
        lines.append(f"hidden tests passed: {task['passed']} / {task['tests']} (the score weighs each test by the "
                     f"importance of what it checks)")
    lines += [f"- {message}" for message in task["messages"]]
    if task.get("tests") and task["status"] != "passed":
        lines.append(f"reproduce: python -m pytest tests --task {task['id']}  (or llmlab.check(\"{task['id']}\") "
                     f"in the notebook)")
    return "\n".join(lines)


def results_json(result: dict) -> dict:
    """Gradescope's results.json: score, output, and per task (a Gradescope "test"): name, score, max_score,
    output, visibility, status. extra_data keeps the per-task scores for the grade sheet."""
    tests = [{"name": f"{t['id']}: {BY_ID[t['id']].title}", "number": t["id"], "score": t["score"],
              "max_score": t["max"], "status": "passed" if t["status"] == "passed" else "failed",
              "output": task_output(t), "visibility": "visible"} for t in result["tasks"]]
    return {"score": result["total"], "output": "\n".join(result["notes"]) or "graded", "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"student_id": result["student_id"], "max": result["max"],
                           "tasks": {t["id"]: t["score"] for t in result["tasks"]},
                           "sandbox": result["sandbox"], "graded_at": result["graded_at"],
                           "submitted_at": result.get("submitted_at"),
                           "seconds": result["seconds"], "grader_error": result.get("grader_error", False)}}


def feedback_html(result: dict) -> str:
    e = html.escape
    rows, sections = [], []
    for t in result["tasks"]:
        mark, zh, en = STATUS[t["status"]]
        rows.append(f"<tr class='{e(t['status'].replace(' ', '-'))}'><td><a href='#{e(t['id'])}'>{e(t['id'])}</a></td>"
                    f"<td>{e(BY_ID[t['id']].title)}</td><td>{mark} {zh} ({en})</td>"
                    f"<td class='num'>{t['score']:g} / {t['max']:g}</td></tr>")
        details = "".join(f"<li>{e(m)}</li>" for m in t["messages"])
        tests = (f"<p>隐藏测试 (hidden tests): {t['passed']} / {t['tests']} 通过 (passed)；得分按每个测试所检查内容的"
                 f"重要性加权 (the score weighs each test by importance)</p>" if t.get("tests") else "")
        reproduce = ""
        if t.get("tests") and t["status"] != "passed":
            reproduce = (f"<p>如何复现 (reproduce): <code>python -m pytest tests --task {e(t['id'])}</code>，"
                         f"或在 notebook 中运行 <code>llmlab.check(\"{e(t['id'])}\")</code></p>")
        sections.append(f"<section id='{e(t['id'])}'><h3>{mark} {e(t['id'])}: {e(BY_ID[t['id']].title)}</h3>"
                        f"<p>得分 (score): <b>{t['score']:g} / {t['max']:g}</b> — {zh} ({en})</p>{tests}"
                        f"{'<ul>' + details + '</ul>' if details else ''}{reproduce}</section>")
    notes = "".join(f"<li>{e(n)}</li>" for n in result["notes"])
    submitted = f"<br>提交时间 (submitted at): {e(result['submitted_at'])}" if result.get("submitted_at") else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>作业反馈 (feedback): {e(result['student_id'])}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; max-width: 60em;
       margin: 2em auto; line-height: 1.5; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border: 1px solid #ccc; padding: .3em .6em; }}
th {{ background: #f3f3f3; }} .num {{ text-align: right; white-space: nowrap; }}
tr.passed {{ background: #eefbea; }} tr.failed, tr.not-implemented {{ background: #fdeeee; }}
tr.partial {{ background: #fff8e0; }} code {{ background: #f5f5f5; padding: 0 .2em; }}
section {{ border-top: 1px solid #ddd; margin-top: 1em; }}
</style></head><body>
<h1>作业反馈 (feedback): 第 11 讲「模型推理二三事」</h1>
<p>学号 (student ID): <b>{e(result['student_id'])}</b><br>
总分 (total): <b>{result['total']:g} / {result['max']:g}</b>{submitted}</p>
{'<h2>提交说明 (about this submission)</h2><ul>' + notes + '</ul>' if notes else ''}
<h2>各任务得分 (scores per task)</h2>
<table><tr><th>任务 (task)</th><th>内容 (what)</th><th>结果 (result)</th><th>得分 (points)</th></tr>
{''.join(rows)}
</table>
<h2>详细反馈 (details)</h2>
<p>每个任务的分数 = 分值 × 通过的隐藏测试按重要性加权所占的比例 (points × share of the hidden tests' weight passed)；notebook 中该任务的检查单元格
(check cell) 未通过、被删除或被修改时，该任务得分减半 (halved)。</p>
{''.join(sections)}
</body></html>
"""


def write(result: dict, folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feedback.html").write_text(feedback_html(result), encoding="utf-8")
    (folder / "results.json").write_text(json.dumps(results_json(result), ensure_ascii=False, indent=1),
                                         encoding="utf-8")
