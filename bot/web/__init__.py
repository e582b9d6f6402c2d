"""The web frontend (issue #23): the operator's dashboard and the user's gallery. So far:
`auth` — Telegram Mini App initData, one-time login links and signed sessions."""
