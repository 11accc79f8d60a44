"""The HTTP service: `create_app(tagger)` builds a FastAPI app with /annotate, /health and a page.

Kept apart from the CLI so that tests (and other servers) can mount the app directly.
"""
