"""HTTP load with wrk (Debian's ``wrk``): a C load generator costs the shared 2 cores far less than a Python one.

``run`` sends the given requests over keep-alive connections, one connection per wrk thread, so each
connection's requests go out in order: a live session's PutEvents is answered before the same user's
GetRecommendations is sent. With ``once`` every request is sent exactly once (first visits); otherwise the
connections cycle through their requests for ``seconds``.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } wrk_timespec;
int clock_gettime(int clock, wrk_timespec *out);
]]
local function now()
  local t = ffi.new("wrk_timespec")
  ffi.C.clock_gettime(1, t)  -- CLOCK_MONOTONIC
  return tonumber(t.tv_sec) + tonumber(t.tv_nsec) * 1e-9
end

local lines = {}
for line in io.lines(REQUESTS) do lines[#lines + 1] = line end
local threads, counter = {}, 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  mine, position, errors, sent, answered, started, finished = {}, 0, 0, 0, 0, 0, 0
  local step = tonumber(THREADS)
  for k = id + 1, #lines, step do
    local path, body = lines[k]:match("^(%S+) (.*)$")
    mine[#mine + 1] = wrk.format("POST", path, {["Content-Type"] = "application/json", ["Host"] = "127.0.0.1"}, body)
  end
end

local function finish()
  if finished == 0 then
    finished = now()
    io.open(MARKERS .. "/" .. id, "w"):close()  -- the driver interrupts wrk once every thread is done
    wrk.thread:stop()
  end
end

function request()
  if started == 0 then started = now() end
  -- one connection per thread: wrk asks for the next request once the last one is answered or timed out
  if ONCE == "1" and sent >= #mine then finish() end
  position = position % #mine + 1
  sent = sent + 1
  return mine[position]
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 then errors = errors + 1 end
  if ONCE == "1" and answered >= #mine then finish() end
end

function done(summary, latency, requests)
  local failed, count, first, last = 0, 0, math.huge, 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("errors")
    count = count + thread:get("answered")
    first = math.min(first, thread:get("started"))
    last = math.max(last, thread:get("finished"))
  end
  local seconds = summary.duration / 1e6
  if ONCE == "1" then seconds = last - first else count = summary.requests end
  io.write(string.format('{"requests": %d, "seconds": %f, "p50": %f, "p99": %f, "errors": %d}\n',
    count, seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    failed + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def run(port: int, requests: list[tuple[str, bytes]], *, connections: int, seconds: float = 5.0,
        once: bool = False) -> dict[str, Any]:
    """Load the server on ``port``; returns rps, p50/p99 in ms, errors and the request count."""
    with tempfile.TemporaryDirectory() as tmp:
        lines, markers = Path(tmp) / "requests.txt", Path(tmp) / "done"
        markers.mkdir()
        lines.write_text("".join(f"{path} {body.decode()}\n" for path, body in requests))
        script = Path(tmp) / "load.lua"
        script.write_text(f'REQUESTS = "{lines}"\nMARKERS = "{markers}"\nTHREADS = "{connections}"\n'
                          f'ONCE = "{1 if once else 0}"\n' + SCRIPT)
        duration = 3600 if once else max(1, int(seconds))  # "once" ends when every thread has sent its share
        wrk = subprocess.Popen(["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{duration}s",
                                "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while once and wrk.poll() is None and len(list(markers.iterdir())) < connections:
            time.sleep(0.05)
        if once and wrk.poll() is None:
            wrk.send_signal(signal.SIGINT)  # wrk stops its threads and reports
        out, err = wrk.communicate(timeout=max(60.0, seconds * 3))
    if wrk.returncode != 0:
        raise RuntimeError(f"wrk failed: {err.strip()}")
    result = json.loads(out.strip().splitlines()[-1])
    result["rps"] = result["requests"] / max(result["seconds"], 1e-9)
    return result  # type: ignore[no-any-return]
