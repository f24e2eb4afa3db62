# Sourced by the PostgreSQL benchmarks: start_postgres_server SETTINGS… starts a throwaway
# PostgreSQL server (initdb in a temporary folder, owned by `nobody` when run as root since initdb
# refuses root, trust auth, a free loopback port) and sets `folder`, `port`, `bin`, `server_pid`
# and `psql` (an array: psql as the superuser `ferry`, unaligned, tuples only). The server stops,
# and the folder goes, when the sourcing script exits however it ends.
start_postgres_server() {
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -x "$bin/initdb" ]] || { echo "PostgreSQL's server is not installed: run make deps (apt-get install postgresql)" >&2; exit 69; }
    folder=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pgbench.XXXXXX")
    local as_user=(setpriv)
    if [[ $(id -u) -eq 0 ]]; then
        chown 65534:65534 "$folder"
        as_user+=(--reuid=65534 --regid=65534 --clear-groups)
    fi
    server_pid=
    trap stop_postgres_server EXIT
    "${as_user[@]}" -- "$bin/initdb" -D "$folder/data" -U ferry --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # --pdeathsig: the server stops with this script however it ends.
    "${as_user[@]}" --pdeathsig INT -- "$bin/postgres" -D "$folder/data" -k "$folder" -h 127.0.0.1 \
        -p "$port" "$@" >"$folder/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
        sleep 0.1
    done
    psql=(psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U ferry)
}

stop_postgres_server() {
    if [[ -n "$server_pid" ]]; then
        kill -INT "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$folder"
}
