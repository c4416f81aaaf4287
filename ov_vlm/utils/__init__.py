"""Small helpers shared by every layer (no model, media or training code)."""
