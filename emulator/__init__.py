"""A stand-alone look-alike of the Google Vertex AI REST API, served on loopback.

The emulator is built from Google's public API description (the discovery documents shipped in
``google-api-python-client``) and public knowledge of Vertex's behaviour. It must never import the
gateway (``server/``): if both were written from the same misunderstanding, tests would pass and
production would fail.

Entry points: ``python -m emulator`` (see ``emulator/README.md``), :class:`emulator.process.
EmulatorProcess` to run it as a subprocess, :class:`emulator.admin.EmulatorAdmin` to drive it,
and :func:`emulator.app.create_app` to embed it in an aiohttp application.
"""

__version__ = "0.1.0"
