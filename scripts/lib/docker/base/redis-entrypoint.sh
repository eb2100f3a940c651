#!/bin/sh
# What the official redis image's entrypoint does, in short: `redis-server` with flags only (no
# config file) gets --protected-mode no (the container network is the boundary), and runs as the
# redis user owning /data.
set -e
if [ "${1#-}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = "redis-server" ]; then
  case "$2" in
    *.conf) ;;
    *) set -- "$@" --protected-mode no ;;
  esac
  if [ "$(id -u)" = "0" ]; then
    chown -R redis:redis /data 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
