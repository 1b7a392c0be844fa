#!/usr/bin/env bash
# Installs everything netwhy needs on Debian 12/13 or Ubuntu 24.04 (run as root), then explains
# a bundled capture.
#   bash setup.sh            install, then run netwhy on samples/snmp-no-agent.pcapng
# It prints one line per step; each step's own output goes to a log, shown only if it fails.
set -euo pipefail
cd "$(dirname "$0")"

log=$(mktemp /tmp/netwhy-setup.XXXXXX.log)
durable_src=$(mktemp -d)
trap 'rm -rf "$durable_src"' EXIT  # however setup ends

step() { echo "setup: $1"; }
quietly() {  # runs a command with its output in the log; on failure shows the log's end
    if ! "$@" >>"$log" 2>&1; then
        echo "setup: failed: $*" >&2
        tail -n 30 "$log" >&2
        echo "setup: the whole log is $log" >&2
        exit 1
    fi
}

step "Debian packages (tshark, Python, gcc, iproute2, nftables, nmap, keepalived, chromium)"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer "no" (see README for the group way).
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
quietly apt-get update -q
# chromium: the docs tests load the built site in a real browser; nmap and keepalived: the
# lab's scans and its VRRP failover
quietly apt-get install -y -q --no-install-recommends \
    tshark python3 python3-venv python3-dev gcc iproute2 nftables iputils-ping nmap keepalived \
    chromium fonts-dejavu-core

python=${PYTHON:-python3}  # PYTHON=python3.12 bash setup.sh picks another interpreter
if ! "$python" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))'; then
    # 3.14 removed the asyncio child watchers that pyshark 0.6 calls to start tshark.
    echo "setup: netwhy needs Python 3.11, 3.12 or 3.13; this is $("$python" -V 2>&1)" >&2
    exit 1
fi
step "virtualenv .venv ($("$python" -V 2>&1))"
[ -x .venv/bin/python ] || quietly "$python" -m venv .venv
quietly .venv/bin/pip install --upgrade pip

step "durable-rules 2.0.28, built from its source with three small changes"
# - it keeps every stored fact in a node with room for 255 properties, about 9 KB whatever the
#   fact's size; netwhy's facts have fewer than 40. With room for 64 the engine needs a
#   quarter of the memory.
# - every rule action defines a timeout helper that refers to itself, used only by
#   asynchronous actions: each action's context then lingers as cyclic garbage until Python's
#   collector finds it (~18 objects an action, a sixth of the rules' time). Deleting the
#   helper in the synchronous branch lets each context go as soon as its action ends.
# - Python 3.13 removed PyEval_CallObject from its C API; PyObject_CallObject, in every
#   version netwhy supports, does the same.
durable_dir="$durable_src"/durable_rules-2.0.28
quietly .venv/bin/pip download --no-deps --no-binary :all: -d "$durable_src" durable-rules==2.0.28
tar -xzf "$durable_src"/durable_rules-2.0.28.tar.gz -C "$durable_src"
sed -i 's/^#define MAX_OBJECT_PROPERTIES 255$/#define MAX_OBJECT_PROPERTIES 64/' \
    "$durable_dir"/src/rules/state.h
grep -q '^#define MAX_OBJECT_PROPERTIES 64$' "$durable_dir"/src/rules/state.h
sed -i 's/^        if self._sync:$/&\n            del timeout/' "$durable_dir"/libpy/durable/engine.py
[ "$(grep -c '^        if self._sync:$' "$durable_dir"/libpy/durable/engine.py)" = 1 ]
grep -A1 '^        if self._sync:$' "$durable_dir"/libpy/durable/engine.py | grep -q 'del timeout'
sed -i 's/\bPyEval_CallObject\b/PyObject_CallObject/g' "$durable_dir"/src/rulespy/rules.c
if grep -q PyEval_CallObject "$durable_dir"/src/rulespy/rules.c; then exit 1; fi
quietly .venv/bin/pip install --no-deps --force-reinstall "$durable_dir"

step "netwhy and its Python dependencies"
quietly .venv/bin/pip install -e '.[test]'
rm -f "$log"

echo
echo "== .venv/bin/netwhy explain samples/snmp-no-agent.pcapng"
.venv/bin/netwhy explain samples/snmp-no-agent.pcapng
