#!/usr/bin/env bash
# Installs everything netwhy needs on Debian (run as root), then explains a bundled capture.
#   bash setup.sh            install, then run netwhy on samples/snmp-no-agent.pcapng
set -euo pipefail
cd "$(dirname "$0")"

export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer "no" (see README for the group way).
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    tshark python3 python3-venv python3-dev gcc iproute2 nftables iputils-ping \
    chromium fonts-dejavu-core >/dev/null  # chromium: the docs tests load the built site

python=python3
if ! "$python" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 13))'; then
    echo "setup.sh: netwhy needs Python 3.11 or 3.12 (durable-rules does not build on 3.13)" >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
# durable-rules 2.0.28 from its source, with two one-line changes (README, Performance):
# - it keeps every stored fact in a node with room for 255 properties, about 9 KB whatever the
#   fact's size; netwhy's facts have fewer than 40. With room for 64 the engine needs a
#   quarter of the memory.
# - every rule action defines a timeout helper that refers to itself, used only by
#   asynchronous actions: each action's context then lingers as cyclic garbage until Python's
#   collector finds it (~18 objects an action, a sixth of the rules' time). Deleting the
#   helper in the synchronous branch lets each context go as soon as its action ends.
durable_src=$(mktemp -d)
durable_dir="$durable_src"/durable_rules-2.0.28
.venv/bin/pip download -q --no-deps --no-binary :all: -d "$durable_src" durable-rules==2.0.28
tar -xzf "$durable_src"/durable_rules-2.0.28.tar.gz -C "$durable_src"
sed -i 's/^#define MAX_OBJECT_PROPERTIES 255$/#define MAX_OBJECT_PROPERTIES 64/' \
    "$durable_dir"/src/rules/state.h
grep -q '^#define MAX_OBJECT_PROPERTIES 64$' "$durable_dir"/src/rules/state.h
sed -i 's/^        if self._sync:$/&\n            del timeout/' "$durable_dir"/libpy/durable/engine.py
[ "$(grep -c '^        if self._sync:$' "$durable_dir"/libpy/durable/engine.py)" = 1 ]
grep -A1 '^        if self._sync:$' "$durable_dir"/libpy/durable/engine.py | grep -q 'del timeout'
.venv/bin/pip install -q --no-deps --force-reinstall "$durable_dir"
rm -rf "$durable_src"
.venv/bin/pip install -q -e '.[test]'

echo
echo "== .venv/bin/netwhy explain samples/snmp-no-agent.pcapng"
.venv/bin/netwhy explain samples/snmp-no-agent.pcapng
