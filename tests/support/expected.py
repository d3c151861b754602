"""What the product promises, written out: tests compare against these, never the code's own."""

from __future__ import annotations

SUMMARY_LIMIT = 480
"""docs/agent.md: a handoff summary is at most 480 characters."""

FAQ_ANSWERS = {
    "hours": "We're open Monday to Friday, 8am to 8pm, and Saturday 9am to 5pm.",
    "order": "You can track any order from the link in your confirmation message.",
    "return": "Returns are free within 30 days; reply with your order number to start one.",
    "password": "You can reset your password from the sign-in page with 'Forgot password'.",
}
"""The demo FAQ's answers (``make up`` without ``BATON_FAQ``)."""
