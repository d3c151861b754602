"""The agent desktop: a Flex stand-in where a human agent picks up handed-off customers.

``GET /desktop`` is a plain page (``index.html``, ``desktop.js``, ``desktop.css``, no build
step) that polls ``/_emulator/desktop/tasks`` every second.
"""
