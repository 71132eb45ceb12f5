"""Business logic over the case store, free of Rasa: identity, case views, applications."""
