"""Custom actions of the POS reactivation support bot (served by rasa-sdk)."""
