# Shared by scripts/dev and scripts/test: environment set-up and local services, all on 127.0.0.1.
# Every service started here is registered and stopped by stop_services (called from an EXIT trap).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SERVICE_PIDS=()
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-rsassets}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-rsassets-local-secret}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export RS_SIMULATOR_CLIENT_SECRET="${RS_SIMULATOR_CLIENT_SECRET:-simulator-secret}"
export RS_SIMULATOR_PASSWORD="${RS_SIMULATOR_PASSWORD:-simulator-password}"

say() { printf '\033[1m[rs-assets]\033[0m %s\n' "$*" >&2; }

# Python 3.13 (pyenv, pinned by .python-version), uv, and the locked environment in .venv.
ensure_python_env() {
    local python="" candidate
    # Never the project's own .venv (it has no pip): pyenv's interpreter first, then one on PATH.
    for candidate in \
        "$( (pyenv root 2>/dev/null || echo "$HOME/.pyenv") )/versions/$(cat "$ROOT/.python-version")/bin/python3" \
        $(type -ap python3.13); do
        case "$candidate" in "$ROOT"/.venv/*) continue ;; esac
        [ -x "$candidate" ] && { python="$candidate"; break; }
    done
    [ -x "$python" ] || { say "Python 3.13 not found (expected pyenv $(cat "$ROOT/.python-version"))"; exit 1; }
    if ! "$python" -m uv --version >/dev/null 2>&1; then
        say "installing uv"
        "$python" -m pip install -q uv
    fi
    # Bytecode at install time: these machines set PYTHONDONTWRITEBYTECODE, so without it every run process
    # (Dagster runs, benchmark children) compiled dagster from source again, ~2 s of CPU each.
    "$python" -m uv sync --frozen --all-extras --compile-bytecode --python "$python" -q
    export PATH="$ROOT/.venv/bin:$PATH"
    export VIRTUAL_ENV="$ROOT/.venv"
    export RS_BASE_PYTHON="$python"  # the interpreter that has uv: the wheel test builds and installs with it
}

ensure_apt() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

free_port() {  # free_port [COUNT]: first of COUNT consecutive free ports (and their +10000 gRPC twins)
    python3 - "${1:-1}" <<'PY'
import random, socket, sys
count = int(sys.argv[1])
def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
for _ in range(500):
    base = random.randrange(20000, 30000)
    if all(free(base + i) and free(base + 10000 + i) for i in range(count)):
        print(base)
        break
else:
    raise SystemExit("no free port block found")
PY
}

wait_for() {  # wait_for NAME SECONDS COMMAND...
    local name="$1" seconds="$2"
    shift 2
    for _ in $(seq $((seconds * 4))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    say "$name did not come up within ${seconds}s"
    return 1
}

register() { SERVICE_PIDS+=("$1"); }

signal_services() {  # signal_services SIGNAL: every registered process group, newest first
    local pid
    for ((i = ${#SERVICE_PIDS[@]} - 1; i >= 0; i--)); do
        pid="${SERVICE_PIDS[$i]}"
        kill "-$1" -- "-$pid" 2>/dev/null || kill "-$1" "$pid" 2>/dev/null || true
    done
}

wait_services() {  # wait_services SECONDS: until every registered process has exited, or SECONDS passed
    local pid deadline=$((SECONDS + $1))
    for pid in "${SERVICE_PIDS[@]}"; do
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.25; done
    done
}

# SIGINT first: Dagster (dg dev, its daemon and code server) stops gracefully on it and marks its runs, while it
# ignores SIGTERM; the simulator and SeaweedFS stop on either. Newest first, each one gone before the next is
# asked: a run still finishing while Dagster stops needs the station, S3 and the catalog it was started with, or
# it outlives the grace period and is left STARTED. SIGTERM, then SIGKILL, only for what is left.
stop_services() {
    local i pid deadline
    for ((i = ${#SERVICE_PIDS[@]} - 1; i >= 0; i--)); do
        pid="${SERVICE_PIDS[$i]}"
        kill -INT -- "-$pid" 2>/dev/null || kill -INT "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 30))
        while { kill -0 -- "-$pid" || kill -0 "$pid"; } 2>/dev/null && ((SECONDS < deadline)); do sleep 0.25; done
    done
    signal_services TERM
    wait_services 5
    for pid in "${SERVICE_PIDS[@]}"; do
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    done
    SERVICE_PIDS=()
    [ -n "${PG_DATA:-}" ] && stop_postgres
    return 0
}

# A script's background commands start with SIGINT ignored (no job control); env restores it, or the code
# server, which stops only on SIGINT, would outlive Ctrl-C.
spawn() {  # spawn LOGFILE COMMAND...: run in its own process group so that stop_services kills its children
    local log="$1"
    shift
    setsid env --default-signal=INT,QUIT "$@" >"$log" 2>&1 < /dev/null &
    register $!
}

# SeaweedFS all-in-one (master, volume, filer, S3) with the S3 credentials from the environment.
start_seaweedfs() {  # start_seaweedfs DIR S3_PORT
    local dir="$1" port="$2" base
    base=$((port + 1))
    mkdir -p "$dir"
    spawn "$dir/weed.log" weed mini -dir="$dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$port" -master.port="$base" -volume.port="$((base + 1))" -filer.port="$((base + 2))" \
        -admin.port="$((base + 3))" -admin.ui=false -s3.port.iceberg="$((base + 4))" \
        -s3.port.lance="$((base + 5))" -webdav=false -metricsPort="$((base + 6))" -volume.max=2000
    export RS_ASSETS_S3_ENDPOINT="http://127.0.0.1:$port"
    wait_for "SeaweedFS S3 on port $port" 90 python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)"
}

ensure_bucket() {  # ensure_bucket NAME
    python3 - "$1" <<'PY'
import sys, time, boto3, os
s3 = boto3.client("s3", endpoint_url=os.environ["RS_ASSETS_S3_ENDPOINT"], region_name=os.environ["AWS_REGION"])
for attempt in range(60):
    try:
        if sys.argv[1] not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket=sys.argv[1])
        break
    except Exception as exc:
        if attempt == 59:
            raise SystemExit(f"cannot create bucket {sys.argv[1]}: {exc}")
        time.sleep(0.5)
PY
}

PG_BIN=/usr/lib/postgresql/15/bin

# PostgreSQL 15 + PostGIS in a private data directory, owned by the postgres user, on 127.0.0.1 only; fresh
# unless KEEP is given and the directory holds a cluster already.
start_postgres() {  # start_postgres DIR PORT [keep]
    PG_DATA="$1"
    PG_PORT="$2"
    if [ "${3:-}" != keep ] || [ ! -f "$PG_DATA/PG_VERSION" ]; then
        rm -rf "$PG_DATA"
        mkdir -p "$PG_DATA"
        chown postgres:postgres "$PG_DATA"
        runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" --auth=trust -U postgres >/dev/null
    fi
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 \
        -o "-p $PG_PORT -k $PG_DATA -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start >/dev/null
}

stop_postgres() {
    [ -d "${PG_DATA:-}" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1
    PG_DATA=""
}

ensure_database() {  # ensure_database NAME: on the PostgreSQL start_postgres started
    local exists
    exists="$(runuser -u postgres -- psql -h 127.0.0.1 -p "$PG_PORT" -d postgres -tAq -c "SELECT 1 FROM pg_database WHERE datname = '$1'")"
    [ "$exists" = 1 ] || runuser -u postgres -- psql -h 127.0.0.1 -p "$PG_PORT" -d postgres -q -c "CREATE DATABASE $1" >/dev/null
}

# stac-fastapi-pgstac with the Transactions extension over a migrated pgstac database.
start_stac_api() {  # start_stac_api LOGDIR PORT
    local dir="$1" port="$2"
    export PGHOST=127.0.0.1 PGPORT="$PG_PORT" PGUSER=postgres PGPASSWORD=postgres PGDATABASE=postgis
    ensure_database postgis
    pypgstac migrate --dsn "postgresql://postgres:postgres@127.0.0.1:$PG_PORT/postgis" >/dev/null
    # The RS catalog namespaces collections as owner:collection; stac-fastapi forbids ':' by default.
    INVALID_ID_CHARS='["/","?","#","[","]","@","!","$","&","(",")","*","+",",",";","="]' \
        ENABLE_TRANSACTIONS_EXTENSIONS=true USE_API_HYDRATE=false \
        spawn "$dir/stac-api.log" uvicorn stac_fastapi.pgstac.app:create_app --factory --host 127.0.0.1 --port "$port" --log-level warning
    export RS_TEST_STAC_API_URL="http://127.0.0.1:$port"
    wait_for "STAC API on port $port" 90 curl -sf -o /dev/null "http://127.0.0.1:$port/_mgmt/ping"
}
