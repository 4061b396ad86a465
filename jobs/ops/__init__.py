"""Operations: the admin dashboard, /metrics, and the counters they read from Redis."""
