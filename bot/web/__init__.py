"""Static assets of the pages the bot serves (no CDN: everything ships here)."""
