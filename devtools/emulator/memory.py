"""Conversation Memory: the configuration's store, its customer profiles and what they recall.

``GET /v1/Stores/{store}/Profiles/{id}`` answers the profile with its traits and
``POST …/Profiles/{id}/Recall`` its observations, as TAC reads them. Orchestrator resolves a
customer's address to a profile (identity resolution) when a conversation gains the customer;
``POST /_emulator/memory/profiles`` seeds what the store knows about an address.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from emulator.auth import require_twilio_auth
from emulator.dependencies import Settings, State
from emulator.errors import not_found
from emulator.settings import EmulatorSettings
from emulator.store import EmulatorState, MemoryProfile
from emulator.wire import utc_now

router = APIRouter(prefix="/v1/Stores", dependencies=[Depends(require_twilio_auth)])
admin_router = APIRouter(prefix="/_emulator/memory", tags=["emulator admin"])


def bare_address(address: str) -> str:
    """One customer across channels: ``whatsapp:+1…`` and ``rcs:+1…`` are the phone ``+1…``."""
    return address.split(":", 1)[1] if address.startswith(("whatsapp:", "rcs:")) else address


def resolve_profile(state: EmulatorState, address: str) -> MemoryProfile:
    """The customer's profile, created on first sight of the address (identity resolution)."""
    key = bare_address(address)
    profile = state.memory_profiles.get(key)
    if profile is None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:26]
        profile = MemoryProfile(id=f"mem_profile_{digest}", address=key, created_at=utc_now())
        state.memory_profiles[key] = profile
    return profile


def _profile(
    state: EmulatorState, settings: EmulatorSettings, request: Request, store: str, profile_id: str
) -> MemoryProfile:
    if store != settings.emulator_memory_store_id:
        raise not_found(request.url.path)
    for profile in state.memory_profiles.values():
        if profile.id == profile_id:
            return profile
    raise not_found(request.url.path)


@router.get("/{store}/Profiles/{profile_id}")
async def fetch_profile(
    store: str, profile_id: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    profile = _profile(state, settings, request, store, profile_id)
    return {"id": profile.id, "createdAt": profile.created_at.isoformat(), "traits": profile.traits}


@router.post("/{store}/Profiles/{profile_id}/Recall")
async def recall(
    store: str, profile_id: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    profile = _profile(state, settings, request, store, profile_id)
    return {
        "observations": [
            {"id": f"obs_{index}", "content": text, "createdAt": profile.created_at.isoformat()}
            for index, text in enumerate(profile.observations)
        ],
        "summaries": [],
        "communications": [],
    }


class SeededProfile(BaseModel):
    address: str = Field(min_length=1)
    traits: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Trait groups, e.g. ``{"Contact": {"firstName": "Ada"}}``."""
    observations: list[str] = Field(default_factory=list)


@admin_router.post("/profiles")
async def seed_profile(seed: SeededProfile, state: State) -> dict[str, str]:
    profile = resolve_profile(state, seed.address)
    profile.traits = seed.traits
    profile.observations = list(seed.observations)
    return {"profileId": profile.id}
