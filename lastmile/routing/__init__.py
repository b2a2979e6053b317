"""The routing engine: a pure library, dataclasses in and dataclasses out, no Django import.

Dispatch builds a ``Problem`` from orders, vehicles and couriers, calls ``solve`` and turns
the ``Solution`` back into routes. ``check`` recomputes a solution from the problem alone.
"""
