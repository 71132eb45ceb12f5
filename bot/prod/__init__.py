"""The production profile: two Rasa servers and two action servers behind nginx on one host."""
