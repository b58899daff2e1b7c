"""Run `gradcam audit --ray` on a two-node Ray cluster on loopback, then stop the cluster.

Run by tests/deploy/test_ray_audit.py and bench/audit.py inside their own network and PID
namespaces (`unshare --net --pid --fork`, `--own-pid-namespace`), as
tests/deploy/ray_cluster_check.py (whose node set-up it shares) is. Writes the command's
exit status, stderr, wall-clock seconds and its JSON result to `--out`.

    python tests/deploy/ray_audit_check.py --out out.json -- AUDIT ARGUMENTS...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ray_cluster_check import BIN, GCS_PORT, NODES, ROOT, ray_start, stop_everything_else


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--own-pid-namespace", action="store_true")
    parser.add_argument("audit", nargs=argparse.REMAINDER, help="after --: gradcam audit's")
    args = parser.parse_args()
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    audit_args = [a for a in args.audit if a != "--"]
    with tempfile.TemporaryDirectory(prefix="ray-") as temp_dir:
        os.environ["HOME"] = temp_dir
        try:
            for node_ip, agent_port in NODES:
                ray_start(node_ip, agent_port, temp_dir)
            started = time.monotonic()
            env = os.environ | {
                "PYTHONPATH": os.pathsep.join((str(ROOT), str(ROOT / "clients" / "python"))),
                "TF_CPP_MIN_LOG_LEVEL": "2",
            }
            completed = subprocess.run(
                [sys.executable, "-m", "app.cli", "audit", *audit_args,
                 "--ray", f"127.0.0.1:{GCS_PORT}"],
                capture_output=True, text=True, timeout=900, cwd=ROOT, env=env,
            )  # fmt: skip
            seconds = time.monotonic() - started
            report = Path(audit_args[audit_args.index("--report") + 1])
            result_file = report.with_suffix(".json")
            out = {
                "returncode": completed.returncode,
                "stderr": completed.stderr[-4000:],
                "seconds": seconds,
                "result": json.loads(result_file.read_text()) if result_file.exists() else None,
            }
            args.out.write_text(json.dumps(out))
        finally:
            if args.own_pid_namespace:
                stop_everything_else()
            else:
                subprocess.run([str(BIN / "ray"), "stop", "--force"], capture_output=True)


if __name__ == "__main__":
    main()
