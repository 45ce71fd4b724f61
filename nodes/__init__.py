"""What a graph is and what each node does: socket types, node specs, the registry,
the graph document, validation and the built-in node library.

Nothing here imports Qt or a GPU library at import time, so the CLI, the render
queue and a remote farm worker can all use it without a display.
"""
