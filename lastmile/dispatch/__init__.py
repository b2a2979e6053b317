"""Dispatch: plans per hub and day, their routes and stops, and the planning run that fills them."""
