"""Drive a two-node Ray cluster on loopback: deploy the Serve config, send requests, stop.

Run by tests/deploy/test_ray_cluster.py inside its own network and PID namespaces
(`unshare --net --pid --fork`, with `--own-pid-namespace`), so the cluster sees only
loopback and the processes it started are all the namespace holds: at the end this
script, its init, kills them all at once. Run without that flag it uses `ray stop --force`.
Writes where the replicas landed and every response to `--out`; the test makes the
assertions.

    python tests/deploy/ray_cluster_check.py --requests requests.json --out results.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVE_CONFIG = ROOT / "deploy" / "ray" / "serve.yaml"
BIN = Path(sys.executable).parent  # ray and serve come with the same environment
GCS_PORT = 6390
DASHBOARD = "http://127.0.0.1:8265"
SERVE_URL = "http://127.0.0.1:8000"
# A second node on the same machine needs its own address and its own agent port.
NODES = [("127.0.0.1", 52365), ("127.0.0.2", 52366)]
DEPLOY_TIMEOUT_S = 150


def ray_start(node_ip: str, agent_port: int, temp_dir: str) -> None:
    common = [
        f"--node-ip-address={node_ip}",
        "--num-cpus=2",
        f"--dashboard-agent-listen-port={agent_port}",
        "--object-store-memory=200000000",  # /dev/shm is small and no objects are big
        "--disable-usage-stats",
    ]
    if node_ip == NODES[0][0]:
        role = [
            "--head",
            f"--port={GCS_PORT}",
            "--dashboard-host=127.0.0.1",
            f"--temp-dir={temp_dir}",
        ]
    else:
        role = [f"--address=127.0.0.1:{GCS_PORT}"]
    run([str(BIN / "ray"), "start", *role, *common])


def fitted_config(models_dir: Path) -> dict[str, Any]:
    """The shipped Serve config, fitted to this machine: two fixed replicas, one per node."""
    config = yaml.safe_load(SERVE_CONFIG.read_text())
    config["proxy_location"] = "HeadOnly"  # two proxies on one machine would share a port
    config["http_options"] = {"host": "127.0.0.1", "port": 8000}
    application = config["applications"][0]
    application["runtime_env"]["env_vars"]["GRADCAM_MODELS_DIR"] = str(models_dir)
    deployment = application["deployments"][0]
    deployment.pop("autoscaling_config")
    deployment["num_replicas"] = 2
    deployment["max_replicas_per_node"] = 1
    deployment["ray_actor_options"] = {"num_cpus": 0.5}
    return config


def wait_until_running(deadline: float) -> list[dict[str, Any]]:
    """Poll the Serve REST API until the app runs; return its replicas' details."""
    while time.monotonic() < deadline:
        try:
            details = httpx.get(f"{DASHBOARD}/api/serve/applications/", timeout=10).json()
        except (httpx.HTTPError, ValueError):
            details = {}
        application = details.get("applications", {}).get("gradcam", {})
        if application.get("status") == "DEPLOY_FAILED":
            raise RuntimeError(f"deploy failed: {application.get('message')}")
        if application.get("status") == "RUNNING":
            return list(application["deployments"]["gradcam"]["replicas"])
        time.sleep(0.5)
    raise TimeoutError(f"the app did not run within {DEPLOY_TIMEOUT_S} s")


def send_concurrently(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def send(request: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{SERVE_URL}{request['path']}", json=request["body"], timeout=120)
        return {"status": response.status_code, "body": response.json()}

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


def print_replica_logs(temp_dir: Path, lines: int = 40) -> None:
    for log in sorted(temp_dir.glob("session_latest/logs/serve/replica_*.log")):
        print(f"--- {log.name}", *log.read_text(errors="replace").splitlines()[-lines:], sep="\n")


def stop_everything_else() -> None:
    """As init of its own PID namespace: SIGKILL every other process in it, and reap them.

    What `ray stop --force` does here, without its waits: it polls its victims for
    seconds per kind, and they linger as zombies (their parent is this script) that only
    this process can reap.
    """
    assert os.getpid() == 1, "only init of a namespace of its own may signal every process"
    os.kill(-1, signal.SIGKILL)  # from a namespace's init: all in the namespace but itself
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def run(command: list[str]) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument(
        "--own-pid-namespace",
        action="store_true",
        help="this script is init of a PID namespace of its own (unshare --pid --fork): "
        "it ends the cluster by killing every other process in it",
    )
    args = parser.parse_args()
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    requests = json.loads(args.requests.read_text())
    with tempfile.TemporaryDirectory(prefix="ray-") as temp_dir:
        # A home of its own: no ~/.ray (auth token) or ~/.keras from the machine leaks in.
        os.environ["HOME"] = temp_dir
        try:
            for node_ip, agent_port in NODES:
                ray_start(node_ip, agent_port, temp_dir)
            config_file = Path(temp_dir) / "serve.yaml"
            config_file.write_text(yaml.safe_dump(fitted_config(args.models_dir.resolve())))
            run([str(BIN / "serve"), "deploy", str(config_file), f"--address={DASHBOARD}"])
            replicas = wait_until_running(time.monotonic() + DEPLOY_TIMEOUT_S)
            ready = httpx.get(f"{SERVE_URL}/v2/health/ready", timeout=10)
            started = time.monotonic()
            responses = send_concurrently(requests)
            results = {
                "replica_nodes": [r["node_ip"] for r in replicas if r["state"] == "RUNNING"],
                "ready_status": ready.status_code,
                "seconds": time.monotonic() - started,
                "responses": responses,
            }
            args.out.write_text(json.dumps(results))
        except BaseException:
            print_replica_logs(Path(temp_dir))
            raise
        finally:
            if args.own_pid_namespace:
                stop_everything_else()  # only the processes started above live here
            else:
                subprocess.run(
                    [str(BIN / "ray"), "stop", "--force"], capture_output=True, timeout=60
                )


if __name__ == "__main__":
    main()
