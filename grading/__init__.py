"""The instructor side. nbgrader runs its console scripts (`alembic`) from PATH, in this process and in the
ones it starts: put this interpreter's scripts first on PATH, so that `/path/to/venv/bin/python -m grading ...`
works without activating the virtual environment."""
import os
import sys
import sysconfig

_path = os.environ.get("PATH", "").split(os.pathsep)
_scripts = [d for d in dict.fromkeys([os.path.dirname(sys.executable), sysconfig.get_path("scripts")])
            if d not in _path]
os.environ["PATH"] = os.pathsep.join(filter(None, [*_scripts, *_path]))
