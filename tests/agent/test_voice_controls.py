"""The agent's voice frames are checked before they reach Twilio."""

from __future__ import annotations

from typing import Any

import pytest

from services.agent_worker.agent import VoiceControls


async def test_invalid_frames_are_refused() -> None:
    sent: list[dict[str, Any]] = []

    async def send(frame: dict[str, Any]) -> None:
        sent.append(frame)

    controls = VoiceControls(send)
    with pytest.raises(ValueError):
        await controls.send_digits("12a")
    with pytest.raises(ValueError):
        await controls.play("file:///etc/passwd")
    with pytest.raises(ValueError):
        await controls.language()
    await controls.language(tts="fr-FR")
    assert sent == [{"type": "language", "ttsLanguage": "fr-FR"}]
