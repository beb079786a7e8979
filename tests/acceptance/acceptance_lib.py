"""What the Python acceptance tests share: a free loopback port, the first
line of a child process's output that matches a pattern, the embedded
broker and registry as child processes, and stopping the children."""
import os
import re
import signal
import socket
import subprocess
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_line(proc, pattern, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            time.sleep(0.05)
            continue
        m = re.search(pattern, line)
        if m:
            return m
    raise AssertionError("no line matching %r" % pattern)


def stop_all(procs):
    """SIGTERM to each child still in procs, SIGKILL after 10 s."""
    for p in procs:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def start_broker_registry(binary, tmp, procs, group=None):
    """`jackpot broker` (one broker; with group, the topics of that group's
    engine, whose repartition topic is named after it) and `jackpot
    registry` (data in tmp), appended to procs; returns (bootstrap servers,
    registry URL)."""
    env = dict(os.environ, JACKPOT_KAFKA__GROUP_ID=group) if group else None
    broker = subprocess.Popen([binary, "broker", "--brokers", "1", "--port", str(free_port())],
                              stdout=subprocess.PIPE, text=True, env=env)
    procs.append(broker)
    bootstrap = wait_line(broker, r"^(127\.0\.0\.1:\d+)").group(1)
    registry = subprocess.Popen([binary, "registry", "--listen", "127.0.0.1:0", "--data",
                                 os.path.join(tmp, "registry")],
                                stdout=subprocess.PIPE, text=True)
    procs.append(registry)
    url = wait_line(registry, r"(http://127\.0\.0\.1:\d+)").group(1)
    return bootstrap, url
