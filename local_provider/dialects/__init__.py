"""Provider dialects: request parsing and response shapes of WaveSpeedAI, Replicate and fal.ai."""
