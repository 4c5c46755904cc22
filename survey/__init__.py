"""The questionnaire: its definition and the logic of the flow, independent of Telegram and storage."""
