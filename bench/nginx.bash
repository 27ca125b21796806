# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Sourced by bench/run and bench/wrk-ab: the nginx every benchmark compares reuselb with, and
# the free port it listens on.
# shellcheck shell=bash

# A port no socket uses, below the ephemeral range, so that no client socket of ours holds it.
free_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 10000))
		ss -Htan "sport = :$p" | grep -q . || { echo $p; return 0; }
	done
	return 1
}

# nginx_conf DIR PORT WORKERS [deferred]: writes DIR/nginx.conf, for `nginx -p DIR/`: WORKERS
# workers on a reuseport listener (with "deferred", TCP_DEFER_ACCEPT too), each answering
# every request with a static 200 that names its pid in X-Reuselb-Worker, as reuselb names its
# worker; nothing written outside DIR.
nginx_conf() {
	local dir=$1 port=$2 workers=$3 deferred=${4:-}
	mkdir -p "$dir/tmp"
	cat >"$dir/nginx.conf" <<-EOF
		worker_processes $workers;
		daemon off;
		master_process on;
		pid $dir/nginx.pid;
		error_log stderr warn;
		events { worker_connections 16384; }
		http {
		    access_log off;
		    keepalive_requests 1000000;
		    default_type text/plain;
		    client_body_temp_path $dir/tmp/body;
		    proxy_temp_path $dir/tmp/proxy;
		    fastcgi_temp_path $dir/tmp/fastcgi;
		    uwsgi_temp_path $dir/tmp/uwsgi;
		    scgi_temp_path $dir/tmp/scgi;
		    server {
		        listen 127.0.0.1:$port reuseport backlog=4096 $deferred;
		        location / {
		            add_header X-Reuselb-Worker \$pid;
		            return 200 "worker\n";
		        }
		    }
		}
	EOF
}
