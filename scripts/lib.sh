# Shared by scripts/run and scripts/test: the virtualenv and the local services.
# Sourced, not executed. Everything private lives under .local/ (git-ignored).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
VENV="$ROOT/.venv"
mkdir -p "$LOCAL"

say() { printf '\033[1;33m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[1;31mbellyfed: %s\033[0m\n' "$*" >&2; exit 1; }
need() {  # need PROGRAM DEBIAN-PACKAGE
  command -v "$1" >/dev/null 2>&1 || die "'$1' is missing: install it with 'apt-get install $2'."
}

# Create .venv and install the project with its dev tools; again only when pyproject.toml changes.
ensure_venv() {
  need python3 python3
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Python 3.11 or newer is needed (found $(python3 --version))."
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" 2>/dev/null || die "python3 cannot make a virtualenv: install 'python3-venv'."
  fi
  local stamp="$VENV/.installed" want
  want=$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "Installing Python dependencies into .venv"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[dev]"
    echo "$want" >"$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

STARTED_PG=""
STARTED_REDIS=""

# PostgreSQL: the one on 127.0.0.1:5432 if it answers, else a private one on 55432 under .local/.
ensure_postgres() {
  if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    PG_PORT=5432
    return
  fi
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bindir" ] && [ -x "$bindir/initdb" ] || die "No PostgreSQL on 127.0.0.1:5432 and none installed: apt-get install postgresql"
  PG_PORT=55432
  local data="$LOCAL/postgres" run_as=()
  if [ "$(id -u)" = 0 ]; then  # PostgreSQL refuses to run as root
    local user=postgres
    id "$user" >/dev/null 2>&1 || user=nobody
    run_as=(runuser -u "$user" --)
    mkdir -p "$data" "$LOCAL/pgsock"
    chown "$user" "$data" "$LOCAL/pgsock"
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    say "Creating a private PostgreSQL cluster in .local/postgres"
    "${run_as[@]}" "$bindir/initdb" -D "$data" -U postgres --auth=trust >/dev/null
  fi
  if ! (exec 3<>/dev/tcp/127.0.0.1/$PG_PORT) 2>/dev/null; then
    say "Starting private PostgreSQL on 127.0.0.1:$PG_PORT"
    "${run_as[@]}" "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $LOCAL/pgsock" start >/dev/null
    STARTED_PG="${run_as[*]} $bindir/pg_ctl -D $data -m fast stop"
  fi
}

# Redis: the one on 127.0.0.1:6379 if it answers, else a private one on 56379 under .local/.
ensure_redis() {
  if (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    REDIS_PORT=6379
    return
  fi
  need redis-server redis-server
  REDIS_PORT=56379
  mkdir -p "$LOCAL/redis"
  if ! (exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT) 2>/dev/null; then
    say "Starting private Redis on 127.0.0.1:$REDIS_PORT"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$LOCAL/redis" --save "" \
      --appendonly no --daemonize yes --pidfile "$LOCAL/redis/redis.pid" --logfile "$LOCAL/redis/redis.log"
    STARTED_REDIS="$LOCAL/redis/redis.pid"
  fi
}

# ClamAV's daemon: the upload tests start a private one of their own (tests/photos/clamd.py).
ensure_clamd() {
  CLAMD=${CLAMD:-$(command -v clamd || echo /usr/sbin/clamd)}
  [ -x "$CLAMD" ] || die "The upload tests scan with ClamAV's daemon: apt-get install clamav-daemon (or set CLAMD=/path/to/clamd)."
  export CLAMD
}

stop_private_services() {
  if [ -n "$STARTED_REDIS" ] && [ -f "$STARTED_REDIS" ]; then
    kill "$(cat "$STARTED_REDIS")" 2>/dev/null || true
  fi
  if [ -n "$STARTED_PG" ]; then
    $STARTED_PG >/dev/null 2>&1 || true
  fi
}

wait_for_port() {  # wait_for_port PORT SECONDS NAME
  local deadline=$((SECONDS + $2))
  until (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "$3 did not start on port $1 within $2 s"
    sleep 0.2
  done
}
