"""trustwatch analytics: observations to devices, findings and alerts."""
