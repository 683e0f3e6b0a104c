"""The edge's nginx configuration, from ``nginx.conf.template`` beside this file, and the
running of it (tests and ``make cluster`` start nginx in the foreground, as a child)."""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
NCHAN_MODULE = "/usr/share/nginx/modules/ngx_nchan_module.so"  # Debian's libnginx-mod-nchan
NGINX = "/usr/sbin/nginx"
SUBSCRIBER_SECONDS = 60  # a stream ends after this; EventSource reconnects (the origin's SSE_MAX_SECONDS)


def render(
    listen: str,
    publish_listen: str,
    origins: Sequence[str],
    run_dir: Path,
    workers: int = 2,
    cache_lock: bool = True,
    access_log: str = "off",
) -> str:
    """The configuration text: the edge on ``listen``, nchan's publisher on
    ``publish_listen``, the web hosts ``origins`` ("host:port") behind it."""
    servers = "\n".join(f"        server {origin} max_fails=1 fail_timeout=2s;" for origin in origins)
    text = Template(TEMPLATE.read_text()).safe_substitute(
        nchan_module=NCHAN_MODULE,
        user=getpass.getuser(),
        workers=workers,
        run_dir=run_dir,
        access_log=access_log,
        origin_servers=servers,
        listen=listen,
        publish_listen=publish_listen,
        cache_lock="on" if cache_lock else "off",
        subscriber_seconds=SUBSCRIBER_SECONDS,
    )
    if "${" in text:
        raise ValueError(f"the edge's template names a value not given: {text[text.index('${') :][:40]}")
    return text


class Edge:
    """An nginx running ``render``'s configuration in ``run_dir``, until ``stop``."""

    def __init__(self, run_dir: Path, **settings) -> None:
        self.run_dir = run_dir
        self.listen = settings["listen"]
        self.publish_listen = settings["publish_listen"]
        for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "cache"):
            (run_dir / folder).mkdir(parents=True, exist_ok=True)
        self.conf = run_dir / "nginx.conf"
        self.conf.write_text(render(run_dir=run_dir, **settings))
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> Edge:
        subprocess.run([NGINX, "-t", "-q", "-c", str(self.conf)], check=True, capture_output=True)
        self.process = subprocess.Popen([NGINX, "-c", str(self.conf)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.listen}/edge/health", timeout=0.5)
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode()}") from None
                time.sleep(0.05)
            else:
                return self
        raise TimeoutError(f"the edge did not answer on {self.listen}")

    def worker_pids(self) -> list[int]:
        """The pids of nginx's worker processes (children of its master)."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children if b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes()]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def installed() -> bool:
    """Whether nginx and nchan are here (scripts/harness/prepare_tests.sh installs them)."""
    return shutil.which(NGINX) is not None and os.path.exists(NCHAN_MODULE)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the configuration (the compose profile's edge image renders it so)."""
    parser = argparse.ArgumentParser(prog="python3 -m scripts.edge.config", description=main.__doc__)
    parser.add_argument("--listen", default="0.0.0.0:8080")
    parser.add_argument("--publish-listen", default="0.0.0.0:8081")
    parser.add_argument("--origin", action="append", required=True, help="a web host, host:port (again for more)")
    parser.add_argument("--run-dir", type=Path, default=Path("/var/lib/edge"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    print(render(args.listen, args.publish_listen, args.origin, args.run_dir, args.workers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
