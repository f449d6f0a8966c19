"""Prometheus metrics of the notifier (served by runner when DUBAN_NOTIFIER_METRICS_PORT is set)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

QUEUE_DEPTH = Gauge("duban_notifier_queue_depth", "Deliveries pending or in flight")
OLDEST_PENDING_AGE = Gauge(
    "duban_notifier_oldest_pending_age_seconds", "Age of the oldest undelivered delivery"
)
DELIVERIES = Counter(
    "duban_notifier_deliveries_total", "Delivery attempts by channel and result", ["channel", "result"]
)
EVENTS_CREATED = Counter(
    "duban_notifier_events_created_total", "Outbox events created by the scanner", ["kind"]
)
SCAN_SECONDS = Histogram(
    "duban_notifier_scan_seconds",
    "Duration of one deadline scan",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
DELIVERY_SECONDS = Histogram(
    "duban_notifier_delivery_seconds", "Duration of one delivery attempt", ["channel"]
)
