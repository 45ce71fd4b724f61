"""The built-in node library, one module per domain (``nodes/library/<domain>.py``)."""
