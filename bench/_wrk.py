"""HTTP load with wrk (Debian's ``wrk``): a C load generator costs the shared 2 cores far less than a Python one.

``run`` sends the given requests over keep-alive connections, one connection per wrk thread, so each
connection's requests go out in order: a live session's PutEvents is answered before the same user's
GetRecommendations is sent. With ``once`` every request is sent exactly once (first visits); otherwise the
connections cycle through their requests for ``seconds``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SCRIPT = r"""
local lines = {}
for line in io.lines(REQUESTS) do lines[#lines + 1] = line end
local threads, counter = {}, 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  mine, position, errors, sent = {}, 0, 0, 0
  local step = tonumber(THREADS)
  for k = id + 1, #lines, step do
    local path, body = lines[k]:match("^(%S+) (.*)$")
    mine[#mine + 1] = wrk.format("POST", path, {["Content-Type"] = "application/json", ["Host"] = "127.0.0.1"}, body)
  end
end

function request()
  position = position % #mine + 1
  sent = sent + 1
  return mine[position]
end

function response(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
  if ONCE == "1" and sent >= #mine then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + thread:get("errors") end
  io.write(string.format('{"requests": %d, "seconds": %f, "p50": %f, "p99": %f, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    failed + summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def run(port: int, requests: list[tuple[str, bytes]], *, connections: int, seconds: float = 5.0,
        once: bool = False) -> dict[str, Any]:
    """Load the server on ``port``; returns rps, p50/p99 in ms, errors and the request count."""
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "requests.txt"
        lines.write_text("".join(f"{path} {body.decode()}\n" for path, body in requests))
        script = Path(tmp) / "load.lua"
        header = f'REQUESTS = "{lines}"\nTHREADS = "{connections}"\nONCE = "{1 if once else 0}"\n'
        script.write_text(header + SCRIPT)
        # "once" ends when every thread has sent its share; the duration is only a ceiling then
        duration = max(1, int(seconds if not once else 600))
        out = subprocess.run(["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{duration}s",
                              "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}"],
                             capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["rps"] = result["requests"] / max(result["seconds"], 1e-9)
    return result  # type: ignore[no-any-return]
