"""Progress bars that leave a line of text in a saved notebook, not a widget.

In a notebook, tqdm draws its bar as a widget, and the saved notebook keeps only a reference to it: reopened
(the widget gone with the kernel), JupyterLab shows "Error displaying widget: model not found" in its place.
"""
from tqdm.auto import tqdm
from tqdm.notebook import tqdm as notebook_tqdm


class progress(tqdm):  # noqa: N801 - used like tqdm itself
    """tqdm.auto.tqdm (iterate over it, or call update() and close()). In a notebook, closing it replaces the
    widget with the bar's last line of text, or with nothing when leave=False."""

    def __init__(self, *args, **kwargs):
        self._shown = None
        if not issubclass(tqdm, notebook_tqdm):      # a terminal, or no ipywidgets: tqdm's text bar
            super().__init__(*args, **kwargs)
            return
        from IPython.display import display
        super().__init__(*args, display=False, **kwargs)
        self._shown = display(self.container, display_id=True)
        self.displayed = True

    def close(self):
        super().close()
        if self._shown is not None:
            self._shown.update({"text/plain": str(self) if self.leave else ""}, raw=True)
            self._shown = None
