"""Checks a deployed wschat website against the files it was made from.

    .venv/bin/python scripts/acceptance/site.py WEBSITE_URL WEBSOCKET_URL [--source wwwroot] [--wait SECONDS]

Every file of the source folder must be served byte for byte with its
Content-Type, except that each HTML page's Content-Security-Policy has its
connect-src pinned to 'self' and the WebSocket origin (as `wschat deploy` and
`wschat dev` pin it), and `config.json` must be exactly {"websocketUrl": WEBSOCKET_URL}.
Over https it also checks CloudFront's redirect from http and its security headers.
It works against `wschat dev` too (http://127.0.0.1:PORT/ and ws://127.0.0.1:PORT/dev).

Fetches go through curl, which uses the system's CA store (python's own
ssl setup has none on some installs).
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import time

CONTENT_TYPES = {
    ".html": ("text/html",),
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".svg": ("image/svg+xml",),
    ".json": ("application/json",),
}


class Failure(Exception):
    pass


def fetch(url, follow=False):
    """(status, lowercased headers, body) of one GET."""
    with tempfile.TemporaryDirectory() as tmp:
        headers, body = pathlib.Path(tmp, "headers"), pathlib.Path(tmp, "body")
        args = ["curl", "-sS", "--max-time", "20", "-D", str(headers), "-o", str(body), "-w", "%{http_code}", url]
        done = subprocess.run(args + (["-L"] if follow else []), capture_output=True, text=True)
        if done.returncode != 0:
            raise Failure(f"GET {url}: {done.stderr.strip() or f'curl exited {done.returncode}'}")
        # With -L, -D holds every response's headers: keep the last one's.
        block = headers.read_text(errors="replace").replace("\r\n", "\n").strip().split("\n\n")[-1]
        fields = {}
        for line in block.split("\n")[1:]:
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        return int(done.stdout), fields, body.read_bytes()


def pin_connect_src(page: bytes, origin: str) -> bytes:
    """The page as wschat serves it: crates/stack/src/website.rs `pin_connect_src`, in Python."""
    lower = page.lower()  # bytes.lower() is ASCII-only, so offsets stay valid
    policy = lower.find(b"content-security-policy")
    start = lower.find(b"connect-src", policy) if policy >= 0 else -1
    if start < 0 or b">" in lower[policy:start]:
        return page
    ends = [i for i in (lower.find(b";", start), lower.find(b'"', start)) if i >= 0]
    if not ends:
        return page
    return page[:start] + f"connect-src 'self' {origin}".encode() + page[min(ends) :]


def connect_src(page: bytes):
    match = re.search(rb"content-security-policy[^>]*?connect-src ([^;\"]*)", page, re.IGNORECASE)
    return match.group(1).decode() if match else None


def check_type(url, headers, suffix):
    allowed = CONTENT_TYPES.get(suffix)
    got = headers.get("content-type", "").split(";")[0].strip().lower()
    if allowed and got not in allowed:
        raise Failure(f"{url}: Content-Type {got or '(none)'}, expected {' or '.join(allowed)}")


def check_no_cache(url, headers):
    if "no-cache" not in headers.get("cache-control", ""):
        raise Failure(f"{url}: Cache-Control {headers.get('cache-control')!r}, expected no-cache (it is revalidated on every load)")


def wait_for_page(url, wait):
    """The first 200 for the page: a new distribution's name can take a few minutes to resolve everywhere."""
    deadline = time.monotonic() + wait
    while True:
        try:
            status, headers, body = fetch(url)
            if status == 200:
                return headers, body
            problem = f"HTTP {status}"
        except Failure as err:
            problem = str(err)
        if time.monotonic() >= deadline:
            raise Failure(f"{url} did not answer 200 within {wait} s: {problem}")
        print(f"  … {url}: {problem}; retrying", file=sys.stderr)
        time.sleep(10)


def check(website, websocket, source, wait):
    base = website.rstrip("/")
    origin = "/".join(websocket.split("/")[:3])  # scheme://host, as pin_connect_src makes it
    checks = []

    headers, page = wait_for_page(f"{base}/", wait)
    got = connect_src(page)
    if got != f"'self' {origin}":
        raise Failure(f"{base}/: CSP connect-src is {got!r}, expected \"'self' {origin}\"")
    expected = pin_connect_src((source / "index.html").read_bytes(), origin)
    if page != expected:
        raise Failure(f"{base}/ differs from {source}/index.html with its connect-src pinned")
    check_type(f"{base}/", headers, ".html")
    check_no_cache(f"{base}/", headers)
    checks.append(f"/ is {source}/index.html with connect-src 'self' {origin}")

    status, headers, body = fetch(f"{base}/config.json")
    if status != 200:
        raise Failure(f"{base}/config.json: HTTP {status}")
    try:
        config = json.loads(body)
    except ValueError as err:
        raise Failure(f"{base}/config.json is not JSON ({err}): {body[:200]!r}")
    if config != {"websocketUrl": websocket}:
        raise Failure(f"{base}/config.json is {config}, expected websocketUrl {websocket}")
    check_type(f"{base}/config.json", headers, ".json")
    check_no_cache(f"{base}/config.json", headers)
    checks.append(f"/config.json names {websocket}")

    files = sorted(
        p for p in source.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source).parts)
    )
    for path in files:
        name = path.relative_to(source).as_posix()
        if name == "config.json":
            continue  # the generated one wins, checked above
        url = f"{base}/{name}"
        status, headers, body = fetch(url)
        if status != 200:
            raise Failure(f"{url}: HTTP {status}")
        local = path.read_bytes()
        if path.suffix == ".html":
            local = pin_connect_src(local, origin)
        if body != local:
            raise Failure(f"{url} differs from {path} ({len(body)} bytes served, {len(local)} on disk)")
        check_type(url, headers, path.suffix)
    checks.append(f"{len(files)} files of {source}/ served as they are, each with its Content-Type")

    if base.startswith("https://"):
        status, headers, _ = fetch("http://" + base[len("https://") :] + "/")
        location = headers.get("location", "")
        if status not in (301, 302, 307, 308) or not location.startswith(base):
            raise Failure(f"http://{base[8:]}/: HTTP {status} to {location!r}, expected a redirect to {base}/")
        checks.append("http:// redirects to https://")
        _, headers, _ = fetch(f"{base}/")
        for header, want in [("strict-transport-security", "max-age="), ("x-content-type-options", "nosniff")]:
            if want not in headers.get(header, "").lower():
                raise Failure(f"{base}/: {header} is {headers.get(header)!r}, expected {want}")
        checks.append("HSTS and nosniff headers are set")
    return checks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("website")
    parser.add_argument("websocket")
    parser.add_argument("--source", type=pathlib.Path, default=pathlib.Path("wwwroot"))
    parser.add_argument("--wait", type=int, default=300, help="seconds to wait for the first 200 (default 300)")
    args = parser.parse_args()
    try:
        for line in check(args.website, args.websocket, args.source, args.wait):
            print(f"ok  website: {line}")
    except Failure as err:
        print(f"FAILED website: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
