#!/usr/bin/env bash
# What `make cluster` needs besides the project's .venv, installed once: etcd, HAProxy,
# nftables and pgBackRest from Debian, Patroni from PyPI in a venv of its own. Patroni runs
# as the postgres user, so its venv is built with Debian's /usr/bin/python3 (a pyenv
# interpreter under /root is unreadable for that user) and kept outside /root. Quiet when
# everything is there.
set -euo pipefail
venv=/opt/ticketledger-patroni
log=${TMPDIR:-/tmp}/ticketledger-cluster-prepare.log
missing=()
command -v etcd >/dev/null || missing+=(etcd-server)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v setpriv >/dev/null || missing+=(util-linux)
command -v nft >/dev/null || missing+=(nftables)
command -v pgbackrest >/dev/null || missing+=(pgbackrest)
[ -x /usr/sbin/nginx ] || missing+=(nginx)  # the edge (scripts/cluster/edge.py)
[ -f /usr/share/nginx/modules/ngx_nchan_module.so ] || missing+=(libnginx-mod-nchan)
[ -x /usr/lib/postgresql/15/bin/pg_ctl ] || missing+=(postgresql-15)
/usr/bin/python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "make cluster: installing ${missing[*]} with apt-get (log: $log)" >&2
  { apt-get update -q && apt-get install -y -q "${missing[@]}"; } >>"$log" 2>&1
fi
if [ ! -x "$venv/bin/patroni" ]; then
  echo "make cluster: building Patroni's venv in $venv (log: $log)" >&2
  { /usr/bin/python3 -m venv "$venv" &&
    "$venv/bin/pip" install 'patroni[etcd3]>=4.1,<4.2' 'psycopg[binary]>=3.1,<4'; } >>"$log" 2>&1
fi
