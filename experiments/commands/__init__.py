"""One module per CLI command group; each exposes ``register(subparsers)``.

``experiments.cli`` imports them lazily by name (see ``COMMAND_MODULES``), so a command's heavy
imports (torch, open_clip, transformers, ray) happen only when that command runs.
"""
