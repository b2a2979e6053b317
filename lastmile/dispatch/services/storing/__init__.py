"""Storing: the one place that writes stops, route totals, plan totals and their events,
replacing a day's plan (``plans``) or applying a re-plan's diff (``diffs``)."""
