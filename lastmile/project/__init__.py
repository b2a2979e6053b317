"""The project's own app: commands that span every app (``seed_demo``).

It is the top layer of the import contracts, so it may import any app; no app imports it.
"""
