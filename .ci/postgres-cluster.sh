# A throwaway PostgreSQL cluster for the relay's PostgreSQL tests, on loopback, in a temporary
# directory. Sourced by .ci/run's `postgres` stage; by hand:
#
#   source .ci/postgres-cluster.sh && pg_cluster_start   # exports HUSHWIRE_TEST_POSTGRES
#   ...                                                  # cargo test ...
#   pg_cluster_stop                                      # stops it and deletes the directory
#
# Installs the distribution's server (apt-get install postgresql) only if no initdb is found.
# initdb and postgres refuse to run as root: as root, they run as the `postgres` user (made by
# the package) in a directory given to it. No fsync: the cluster lives for one test run.

pg_cluster_start() {
    local initdb
    initdb="$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -z "$initdb" ]]; then
        echo "installing postgresql"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
        initdb="$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)"
    fi
    PG_BIN="$(dirname "$initdb")"
    PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/hushwire-pg.XXXXXX")"
    PG_AS=()
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$PG_DIR"
        PG_AS=(runuser -u postgres --)
    fi
    PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U hushwire -A trust --no-sync -E UTF8 >"$PG_DIR/initdb.log"
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
        start >/dev/null
    export HUSHWIRE_TEST_POSTGRES="postgres://hushwire@127.0.0.1:$PG_PORT/postgres"
    echo "$("$PG_BIN/postgres" --version) on 127.0.0.1:$PG_PORT (data in $PG_DIR)"
}

pg_cluster_stop() {
    if [[ -n "${PG_DIR:-}" && -d "$PG_DIR" ]]; then
        "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
    PG_DIR=""
}
