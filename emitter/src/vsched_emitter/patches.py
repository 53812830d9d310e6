"""Instance attributes the emitter replaces for a while (vLLM objects' methods), put back in
reverse order by restore(): one place for the bookkeeping the session and the KV-connector
hooks share."""
from __future__ import annotations

from .records import OMIT


class InstancePatches:
    def __init__(self) -> None:
        self._installed: list = []

    def patch(self, obj, name, fn) -> None:
        prev = obj.__dict__.get(name, OMIT)
        setattr(obj, name, fn)
        self._installed.append((obj, name, prev))

    def restore(self) -> None:
        """Never raises: a vLLM object that refuses the old attribute back keeps ours."""
        installed, self._installed = self._installed, []
        for obj, name, prev in reversed(installed):
            try:
                if prev is OMIT:
                    delattr(obj, name)
                else:
                    setattr(obj, name, prev)
            except Exception:
                pass
