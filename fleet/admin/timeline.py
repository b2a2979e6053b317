"""Geometry of the charging-plan chart: server-rendered SVG, no chart library.

One lane per charger with a bar per 15-minute slot (height: power against the charger's
rating), a band of slot prices, and the site's load against its cap, with the naive
plug-in-on-arrival load drawn over it for comparison.
"""

import hashlib
from dataclasses import dataclass

from django.utils import timezone

from fleet.models import ChargingPlan
from fleet.selectors import PlanTimeline, charging_plan_timeline

SLOT_W = 12
LABEL_W = 96
AXIS_H = 22
PRICE_H = 12
LANE_H = 28
LOAD_H = 110
GAP = 10
MIN_W = 820  # the legend's width: short nights still show it whole


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str


def _colour(code: str) -> str:
    hue = int(hashlib.sha1(code.encode(), usedforsecurity=False).hexdigest()[:4], 16) % 360
    return f"hsl({hue}, 60%, 45%)"


def _kw(watts: int) -> str:
    return f"{watts / 1000:.1f} kW"


def timeline_context(plan: ChargingPlan) -> dict:
    """Everything the template draws, in pixels, for a plan from ``charging_plan_get``."""
    data: PlanTimeline = charging_plan_timeline(plan=plan)
    zone = plan.hub.zone
    slots = len(data.slot_starts)
    local = [timezone.localtime(start, zone) for start in data.slot_starts]
    chart_end = LABEL_W + slots * SLOT_W

    every = 1 if slots <= 48 else 2
    ticks = [
        {"x": LABEL_W + i * SLOT_W, "label": f"{moment:%H}"}
        for i, moment in enumerate(local)
        if moment.minute == 0 and moment.hour % every == 0
    ]

    prices = data.prices_minor_per_mwh
    low, high = min(prices, default=0), max(prices, default=0)
    price_y = AXIS_H
    price_rects = []
    for i, price in enumerate(prices):
        share = 0.0 if high == low else (price - low) / (high - low)
        # Cheap slots pale, dear ones dark: where the bars should gather is visible at once.
        lightness = round(92 - 42 * share)
        price_rects.append(
            Rect(
                LABEL_W + i * SLOT_W,
                price_y,
                SLOT_W,
                PRICE_H,
                f"hsl(40, 80%, {lightness}%)",
                f"{local[i]:%H:%M} {price / 100_000:.3f} per kWh",
            )
        )

    lanes_y = price_y + PRICE_H + GAP
    lanes = []
    for n, lane in enumerate(data.chargers):
        top = lanes_y + n * LANE_H
        bars = []
        for bar in lane.bars:
            height = max(2.0, (LANE_H - 6) * min(1.0, bar.power_w / lane.max_power_w))
            bars.append(
                Rect(
                    LABEL_W + bar.slot_index * SLOT_W + 1,
                    top + LANE_H - 3 - height,
                    SLOT_W - 2,
                    height,
                    _colour(bar.vehicle_code),
                    f"{bar.vehicle_code} {local[bar.slot_index]:%H:%M} {_kw(bar.power_w)}",
                )
            )
        lanes.append(
            {
                "y": top,
                "label_y": top + LANE_H / 2 + 4,
                "label": lane.label,
                "vehicles": ", ".join(lane.vehicles),
                "bars": bars,
            }
        )

    load_y = lanes_y + len(lanes) * LANE_H + GAP * 2
    scale_w = max(
        data.power_cap_w, max(data.site_load_w, default=0), max(data.naive_load_w, default=0)
    )
    scale = (LOAD_H - 4) / scale_w if scale_w else 0
    base = load_y + LOAD_H
    load_rects = [
        Rect(
            LABEL_W + i * SLOT_W + 1,
            base - watts * scale,
            SLOT_W - 2,
            watts * scale,
            "#2e7d32" if watts <= data.power_cap_w else "#c62828",
            f"{local[i]:%H:%M} site {_kw(watts)}",
        )
        for i, watts in enumerate(data.site_load_w)
        if watts
    ]
    naive_points = " ".join(
        f"{LABEL_W + i * SLOT_W + x},{base - watts * scale:.1f}"
        for i, watts in enumerate(data.naive_load_w)
        for x in (0, SLOT_W)
    )
    return {
        "width": max(chart_end, MIN_W),
        "chart_end": chart_end,
        "lanes_w": chart_end - LABEL_W,
        "height": base + AXIS_H,
        "label_w": LABEL_W,
        "axis_y": AXIS_H - 6,
        "ticks": ticks,
        "price_y": price_y,
        "price_label_y": price_y + PRICE_H - 2,
        "price_rects": price_rects,
        "lanes": lanes,
        "lanes_bottom": lanes_y + len(lanes) * LANE_H,
        "lane_h": LANE_H,
        "load_y": load_y,
        "load_label_y": load_y + 12,
        "load_base": base,
        "load_rects": load_rects,
        "naive_points": naive_points,
        "cap_y": base - data.power_cap_w * scale,
        "cap_label": _kw(data.power_cap_w),
        "peak_label": _kw(max(data.site_load_w, default=0)),
        "naive_peak_label": _kw(max(data.naive_load_w, default=0)),
        "legend_y": base + 16,
    }
