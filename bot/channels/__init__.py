"""Custom Rasa input channels and the pages served by the bot."""
