"""Load test of the bot: a locust scenario of merchants holding full conversations (`make load`)."""
