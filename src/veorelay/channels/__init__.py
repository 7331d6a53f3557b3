"""The upstream pool: channel clients, health, validation and seeding (docs/channels.md)."""
