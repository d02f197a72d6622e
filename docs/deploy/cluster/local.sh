#!/usr/bin/env bash
# make cluster: three kefu nodes on this machine, NATS embedded in each,
# behind HAProxy — a cluster to try, not a deployment. Ctrl-C stops it all;
# the data stays in $DATA for the next run.
#
#   http://localhost:8020/demo        the demo page, through the balancer
#   http://localhost:8020/admin/      admin (password printed below)
#   http://localhost:8021..8023       each node directly
#
# Every port can be moved: LB_PORT, NODE_PORTS, ROUTE_PORTS, METRICS_PORTS.
set -euo pipefail
cd "$(dirname "$0")/../../.."

BIN=${BIN:-bin/kefu}
DATA=${DATA:-data/cluster}
LB_PORT=${LB_PORT:-8020}
read -r -a NODE_PORTS <<<"${NODE_PORTS:-8021 8022 8023}"
read -r -a ROUTE_PORTS <<<"${ROUTE_PORTS:-7221 7222 7223}"
read -r -a METRICS_PORTS <<<"${METRICS_PORTS:-9021 9022 9023}"

if ! command -v haproxy >/dev/null; then
	echo "make cluster needs HAProxy in front of the nodes: apt-get install haproxy (or brew install haproxy)" >&2
	exit 1
fi
mkdir -p "$DATA"
# Every node of a cluster needs the same secret key (it seals the stored
# AI key), and the demo's admin a password we can print.
[ -s "$DATA/secret.key" ] || { head -c 32 /dev/urandom | base64 >"$DATA/secret.key"; chmod 600 "$DATA/secret.key"; }
[ -s "$DATA/admin-password" ] || { head -c 12 /dev/urandom | base64 | tr -d '/+=' >"$DATA/admin-password"; chmod 600 "$DATA/admin-password"; }

# The first admin's password counts only at the very first start.
first=()
[ -d "$DATA/n1" ] || first=(--admin-password "$(cat "$DATA/admin-password")")

peers=""
for p in "${ROUTE_PORTS[@]}"; do peers+="${peers:+,}127.0.0.1:$p"; done
pids=()
stop() {
	trap - INT TERM EXIT
	echo "stopping the cluster…"
	kill -TERM "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
}
trap stop INT TERM EXIT

for i in 0 1 2; do
	n=n$((i + 1))
	"$BIN" serve --addr "127.0.0.1:${NODE_PORTS[$i]}" --data "$DATA/$n" \
		--cluster-name kefu-local --node-name "$n" \
		--cluster-listen "127.0.0.1:${ROUTE_PORTS[$i]}" --cluster-peers "$peers" \
		--secret-key-file "$DATA/secret.key" "${first[@]}" \
		--metrics-addr "127.0.0.1:${METRICS_PORTS[$i]}" \
		--behind-proxy=true --allow-private-destinations=true \
		2> >(sed -u "s/^/[$n] /" >&2) &
	pids+=($!)
done

cfg="$DATA/haproxy.cfg"
sed -e "s/127.0.0.1:8020/127.0.0.1:$LB_PORT/" \
	-e "s/127.0.0.1:8021/127.0.0.1:${NODE_PORTS[0]}/" \
	-e "s/127.0.0.1:8022/127.0.0.1:${NODE_PORTS[1]}/" \
	-e "s/127.0.0.1:8023/127.0.0.1:${NODE_PORTS[2]}/" \
	docs/deploy/cluster/haproxy.cfg >"$cfg"
haproxy -db -f "$cfg" 2> >(sed -u "s/^/[haproxy] /" >&2) &
pids+=($!)

ready() { # GET /readyz with bash alone
	{ exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3
	local status
	read -r _ status _ <&3 || true
	exec 3<&-
	[ "$status" = 200 ]
}
for p in "${NODE_PORTS[@]}"; do
	until ready "$p"; do
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "a process of the cluster exited" >&2; exit 1; }; done
		sleep 0.2
	done
done
cat <<MSG

  Kefu cluster: three nodes (NATS JetStream embedded, 3 replicas) behind HAProxy
    demo      http://localhost:$LB_PORT/demo
    admin     http://localhost:$LB_PORT/admin/   user admin, password $(cat "$DATA/admin-password")
    console   http://localhost:$LB_PORT/console/
    nodes     http://127.0.0.1:${NODE_PORTS[0]}  :${NODE_PORTS[1]}  :${NODE_PORTS[2]}   (metrics on :${METRICS_PORTS[0]}-${METRICS_PORTS[2]}/metrics)
  Stop one node (kill -9 a pid below) and keep chatting; Ctrl-C stops everything.
    pids      ${pids[*]:0:3} (n1 n2 n3), haproxy ${pids[3]}

MSG
# Not wait -n: a node killed to try a loss must leave the others serving.
# Ctrl-C (the trap) stops everything.
wait "${pids[@]}"
