"""The local API server in the status bar: its address while it serves, and a notice while
an API client holds the model (the chat's own messages are left alone)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from app.gui.viewmodels.api_server import ApiServerController


class ApiStatus(QLabel):
    """A permanent status-bar label fed by an ``ApiServerController``."""

    def __init__(self, api: ApiServerController, bar: QStatusBar) -> None:
        super().__init__()
        self.bar = bar
        self._notice = ""  # "An API client ... is using the model." while shown
        self.setObjectName("statusApi")
        self.setAccessibleName("Local API server")
        self.setVisible(False)
        bar.addPermanentWidget(self)
        api.address_changed.connect(self._on_address)
        api.holder_changed.connect(self._on_holder)
        api.failed.connect(lambda text: bar.showMessage(text, 15000))

    def _on_address(self, url: str) -> None:
        self.setText(f"API {url}" if url else "")
        self.setToolTip(
            f"Other apps on this computer reach the models at {url} (OpenAI-compatible)."
            if url
            else ""
        )
        self.setVisible(bool(url))

    def _on_holder(self, who: str) -> None:
        # Only the API's own notice is taken down again: the chat holds the engine too,
        # and what the status bar says about it (a save refused, say) must stay.
        if who.startswith("An API client"):
            self._notice = f"{who} is using the model."
            self.bar.showMessage(self._notice, 0)
        elif self._notice and self.bar.currentMessage() == self._notice:
            self.bar.clearMessage()
            self._notice = ""
