"""Business rules over the case store, free of Rasa: identity, cases, applications, handoffs.

Each module has the rules as functions taking a ``Session`` (one unit of work, used by tests and
tools) and a service class (:class:`bot.services.base.StoreService`) that actions and channels
call: it opens the session, runs the work on a worker thread and raises ``StoreUnavailable``.
"""
