"""The driver REST API: a signed-in courier's routes, route offers and stop updates."""
