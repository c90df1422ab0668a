#!/usr/bin/env bash
# bench/run.sh: curlpoll against net/http and against libcurl driven from C,
# in one run, on one machine. Writes BENCHMARKS.md at the repository root.
#
#   bench/run.sh            the full comparison (also: make bench); < 15 min on 2 cores
#   REPS=5 bench/run.sh     more runs per client and workload (default 3)
#   SMOKE=1 bench/run.sh    tiny counts, one run, no scale test, no
#                           BENCHMARKS.md: checks that everything builds,
#                           starts and finishes (CI uses this)
#   BENCH_OUT=F bench/run.sh   writes F instead of BENCHMARKS.md; with
#                           PKG_CONFIG_PATH (and a GOCACHE of its own) it
#                           measures another libcurl (make bench-libcurl8)
#
# It installs what it needs from Debian's packages, starts nginx on
# 127.0.0.1 (one worker, no access log, unlimited keep-alive requests;
# HTTP/1.1 in clear text and HTTP/2 over TLS with a self-signed certificate
# made here; static files of 100 B, 16 KiB, 1 MiB and 256 MiB), under a
# temporary prefix, and stops it by its pid at the end.
#
# Request counts (per run; each client does the same work):
#   HTTP/1.1 100 B   N=1: 10000   N=16: 40000   N=128: 40000
#   HTTP/1.1 1 MiB   N=8: 2000 (2 GiB)
#   HTTP/1.1 256 MiB N=1: 8 (2 GiB)
#   HTTP/2 TLS 100 B N=128: 40000
#   scale: 10000 concurrent transfers held open by bench/slowserver
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
REPS=${REPS:-3}
OUT=${BENCH_OUT:-BENCHMARKS.md}
SMOKE=${SMOKE:-0}
SCALE_N=${SCALE_N:-10000}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

if [ "$SMOKE" = 1 ]; then
	REPS=1
	N_SMALL1=50 N_SMALL=400 N_1M=16 N_256M=1 N_H2=400
else
	N_SMALL1=10000 N_SMALL=40000 N_1M=2000 N_256M=8 N_H2=40000
fi

log() { echo "== $*" >&2; }

# --- what it needs from Debian ---------------------------------------------
missing=""
for p in nginx openssl curl gcc libc6-dev pkg-config libcurl4-openssl-dev libssl-dev; do
	dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	log "installing:$missing"
	$SUDO apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# --- a private directory, and cleaning up by pid ---------------------------
WORK=$(mktemp -d /tmp/curlpoll-bench.XXXXXX)
chmod 755 "$WORK" # nginx's worker may run as another user
NGINX_PID=""
SLOW_PID=""
cleanup() {
	if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
		kill -QUIT "$NGINX_PID"
		for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
	fi
	if [ -n "$SLOW_PID" ] && kill -0 "$SLOW_PID" 2>/dev/null; then
		kill "$SLOW_PID"
		wait "$SLOW_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# --- build -----------------------------------------------------------------
log "building the clients"
BIN=$WORK/bin
mkdir -p "$BIN"
go build -o "$BIN/" ./bench/curlpoll-multi ./bench/curlpoll-transport ./bench/nethttp \
	./bench/report ./bench/slowserver ./bench/scale
gcc -O2 -Wall -o "$BIN/c-multisocket" bench/c-multisocket/main.c $(pkg-config --cflags --libs libcurl)

# --- nginx -----------------------------------------------------------------
log "starting nginx"
NG=$WORK/nginx
mkdir -p "$NG/www" "$NG/logs" "$NG/tmp"
head -c 100 /dev/urandom >"$NG/www/100b"
head -c 16384 /dev/urandom >"$NG/www/16k"
head -c 1048576 /dev/urandom >"$NG/www/1m"
truncate -s 256M "$NG/www/256m" # sparse: read from the page cache, no disk
chmod -R a+rX "$NG"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$NG/key.pem" -out "$NG/cert.pem" 2>/dev/null
H1_PORT=$("$BIN/report" freeport)
H2_PORT=$("$BIN/report" freeport)
while [ "$H2_PORT" = "$H1_PORT" ]; do H2_PORT=$("$BIN/report" freeport); done
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"
cat >"$NG/nginx.conf" <<CONF
$USER_LINE
worker_processes 1;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events { worker_connections 16384; }
worker_rlimit_nofile 20000;
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 600s;
	keepalive_requests 2000000000;
	client_body_temp_path $NG/tmp/body;
	proxy_temp_path $NG/tmp/proxy;
	fastcgi_temp_path $NG/tmp/fastcgi;
	uwsgi_temp_path $NG/tmp/uwsgi;
	scgi_temp_path $NG/tmp/scgi;
	types { application/octet-stream bin; }
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:$H1_PORT;
		root $NG/www;
	}
	server {
		listen 127.0.0.1:$H2_PORT ssl http2;
		ssl_certificate $NG/cert.pem;
		ssl_certificate_key $NG/key.pem;
		http2_max_concurrent_streams 256;
		root $NG/www;
	}
}
CONF
"$NGINX" -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log"
for _ in $(seq 50); do [ -s "$NG/nginx.pid" ] && break; sleep 0.1; done
NGINX_PID=$(cat "$NG/nginx.pid")
H1=http://127.0.0.1:$H1_PORT
H2=https://127.0.0.1:$H2_PORT
for _ in $(seq 50); do curl -sf -o /dev/null "$H1/100b" && break; sleep 0.1; done
curl -sf --cacert "$NG/cert.pem" --http2 -o /dev/null "$H2/100b"

# --- versions --------------------------------------------------------------
META=$WORK/meta.md
{
	echo "# Benchmarks"
	echo
	echo "Written by \`bench/run.sh\` (\`make bench\`) on $(date -u '+%Y-%m-%d %H:%M UTC'); rerun it to refresh this file."
	echo
	echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GB RAM, $(uname -sr)"
	echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared)"
	echo "- libcurl: $(pkg-config --modversion libcurl) from $(pkg-config --variable=libdir libcurl) (curlpoll and the C loop); the curl tool: $(curl --version | head -1)"
	echo "- Go: $(go version)"
	echo "- nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //'), one worker, on 127.0.0.1 with the clients"
	echo "- runs per client and workload: $REPS; requests per run: 100 B N=1: $N_SMALL1, N=16 and N=128: $N_SMALL, h2 N=128: $N_H2; 1 MiB: $N_1M; 256 MiB: $N_256M"
} >"$META"
cat "$META" >&2

# --- the runs --------------------------------------------------------------
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
CA=$NG/cert.pem

# run LABEL N REQUESTS URL [h2]: every client once on one workload.
run() {
	local label=$1 n=$2 reqs=$3 url=$4 h2=${5:-}
	local flags=(-url "$url" -n "$reqs" -c "$n" -label "$label")
	local curlflags=(--http1.1)
	if [ -n "$h2" ]; then
		flags+=(-h2 -cacert "$CA")
		curlflags=(--http2 --cacert "$CA")
	fi
	local c
	for c in curlpoll-multi curlpoll-transport nethttp c-multisocket; do
		"$BIN/$c" "${flags[@]}" >>"$RESULTS" || log "$c failed on $label"
	done
	"$BIN/c-multisocket" -del "${flags[@]}" >>"$RESULTS" || log "c-multisocket -del failed on $label"
	# curl: one globbed URL makes reqs transfers; -w prints code and size.
	local pmax=$n
	[ "$pmax" -gt 300 ] && pmax=300
	"$BIN/report" wrap -client curl -label "$label" -workers "$n" -- \
		curl -s --no-progress-meter "${curlflags[@]}" --parallel --parallel-immediate --parallel-max "$pmax" \
		-o /dev/null -w '%{http_code} %{size_download}\n' "$url?[1-$reqs]" >>"$RESULTS" ||
		log "curl failed on $label"
}

for rep in $(seq "$REPS"); do
	log "round $rep of $REPS"
	run h1-100B-N1 1 "$N_SMALL1" "$H1/100b"
	run h1-100B-N16 16 "$N_SMALL" "$H1/100b"
	run h1-100B-N128 128 "$N_SMALL" "$H1/100b"
	run h1-1MiB-N8 8 "$N_1M" "$H1/1m"
	run h1-256MiB-N1 1 "$N_256M" "$H1/256m"
	run h2-100B-N128 128 "$N_H2" "$H2/100b" h2
done

# --- scale -----------------------------------------------------------------
if [ "$SMOKE" = 1 ]; then
	SCALE_N=20
fi
log "scale: $SCALE_N transfers held open"
exec 3< <("$BIN/slowserver" -addr "127.0.0.1:$("$BIN/report" freeport)" -hold 5m)
SLOW_PID=$!
read -r -t 10 SLOW_ADDR <&3
for c in curlpoll-multi curlpoll-transport nethttp; do
	"$BIN/scale" -client "$c" -url "http://$SLOW_ADDR/trickle" -n "$SCALE_N" >>"$RESULTS" ||
		log "scale $c failed"
	sleep 2 # let the server reap the cancelled connections
done
kill "$SLOW_PID" && wait "$SLOW_PID" 2>/dev/null || true
SLOW_PID=""

# --- report ----------------------------------------------------------------
if [ "$SMOKE" = 1 ]; then
	cat "$RESULTS"
	bad=$(grep -c '"errors":[1-9]' "$RESULTS" || true)
	lines=$(wc -l <"$RESULTS")
	log "smoke: $lines result lines, $bad with errors"
	[ "$bad" = 0 ] && [ "$lines" -ge 30 ]
	exit
fi
"$BIN/report" summarize -in "$RESULTS" -meta "$META" >"$WORK/BENCHMARKS.md"
if [ -f bench/NOTES.md ]; then
	{ echo; cat bench/NOTES.md; } >>"$WORK/BENCHMARKS.md"
fi
{ echo; echo "## Raw results"; echo; echo '```'; cat "$RESULTS"; echo '```'; } >>"$WORK/BENCHMARKS.md"
cp "$WORK/BENCHMARKS.md" "$ROOT/$OUT"
log "wrote $OUT"
sed -n '/^## Targets/,/^## Raw/p' "$ROOT/$OUT" >&2
