"""nginx, one worker process, in three roles on loopback ports:

- `content`: serves the gateway's own MP4 file (sendfile on), the download reference;
- `upstream`: plain-HTTP front of the simulator, veorelay's base URL;
- `upstream_tls`: the same over TLS (self-signed), LiteLLM's base URL. The simulator names its
  download links `https://<host it was asked as>/...` as Google does; veorelay takes only the
  path from them, LiteLLM fetches them as they are, so it must talk TLS to find them.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from procs import Server, free_port, http_ready


@dataclass(frozen=True)
class NginxPorts:
    content: int
    upstream: int
    upstream_tls: int


def self_signed(openssl: str, directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not cert.exists():
        subprocess.run(
            [
                *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
                *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
            ],
            check=True,
            capture_output=True,
        )
    return cert, key


def config(
    work: Path, ports: NginxPorts, mp4_dir: Path, simulator_port: int, tls: tuple[Path, Path]
) -> str:
    cert, key = tls
    proxy = """
        location / {
            proxy_pass http://simulator;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_set_header X-Forwarded-For $remote_addr;"""
    return f"""
daemon off;
user root;  # the gateway's data directory is private to the user running the bench
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    types {{ video/mp4 mp4; }}
    upstream simulator {{ server 127.0.0.1:{simulator_port}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{ports.content};
        root {mp4_dir};
    }}
    server {{
        listen 127.0.0.1:{ports.upstream};{proxy}
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto http;
        }}
    }}
    server {{
        listen 127.0.0.1:{ports.upstream_tls} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};{proxy}
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto https;
        }}
    }}
}}
"""


def start_nginx(
    nginx: str, openssl: str, work: Path, mp4_dir: Path, simulator_port: int
) -> tuple[Server, NginxPorts]:
    work.mkdir(parents=True, exist_ok=True)
    ports = NginxPorts(free_port(), free_port(), free_port())
    conf = work / "nginx.conf"
    conf.write_text(config(work, ports, mp4_dir, simulator_port, self_signed(openssl, work)))
    server = Server("nginx", [nginx, "-c", str(conf), "-p", str(work)], {}, work / "nginx.log")
    server.start(http_ready(f"http://127.0.0.1:{ports.content}/"))
    return server, ports
