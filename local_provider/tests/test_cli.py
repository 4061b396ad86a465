"""Starting from the command line and the environment; determinism under --seed."""

import concurrent.futures

from .support import API_KEY, Provider, wait_until


def run_jobs(provider: Provider, image_url: str, key: str, count: int = 6) -> list[tuple[str, str]]:
    """Submit jobs one after another and return (id, final status) for each."""
    headers = {"Authorization": f"Bearer {key}"}
    ids = []
    for _ in range(count):
        response = provider.http.post("/replicate/v1/predictions", headers=headers,
                                      json={"version": "v1", "input": {"image": image_url}})
        assert response.status_code == 201
        ids.append(response.json()["id"])

    def final(prediction_id):
        body = provider.http.get(f"/replicate/v1/predictions/{prediction_id}", headers=headers).json()
        return body["status"] in ("succeeded", "failed") and body["status"]
    return [(prediction_id, wait_until(lambda: final(prediction_id))) for prediction_id in ids]


def test_same_seed_same_run(tmp_path, image_url):
    """Two fresh providers with the same --seed give the same ids and the same injected failures."""
    env = {"LOCAL_PROVIDER_API_KEY": "env-key", "LOCAL_PROVIDER_FAILURE_RATE": "0.5"}
    args = ("--seed", "7", "--time-scale", "0.01", "--mode", "fast", "--max-concurrency", "3", "--over-limit", "queue")
    dirs = [tmp_path / "a", tmp_path / "b"]
    for path in dirs:
        path.mkdir()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        providers = list(pool.map(lambda path: Provider(path, *args, env=env), dirs))
    try:
        knobs = providers[0].state()["knobs"]
        assert (knobs["seed"], knobs["failure_rate"], knobs["max_concurrency"]) == (7, 0.5, 3)
        denied = providers[0].http.post("/replicate/v1/predictions", json={},
                                        headers={"Authorization": f"Bearer {API_KEY}"})
        assert denied.status_code == 401
        first, second = (run_jobs(p, image_url, "env-key") for p in providers)
        assert first == second
        assert {status for _, status in first} == {"succeeded", "failed"}
    finally:
        for running in providers:
            running.stop()
