"""The jobs API: selfies, direct uploads, jobs and styles. One APIView per operation."""
