"""Telegram glue for the survey bot: configuration, handlers and the application builder."""
