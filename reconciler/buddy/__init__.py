"""The Buddy API → the live model: the client (the only user of httpx), rate-limit pacing, the shapes of
answers, connection settings, and the one reader of live state."""
