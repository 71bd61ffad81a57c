#!/bin/sh
# The official redis:7.0 entry point, with setpriv (util-linux) for gosu. The official build compiles protected
# mode off; Debian's redis-server has it on, so it is turned off here, first, so that a command's own options win.
set -e
# first arg is `-f` or `--some-option`, or `something.conf`
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi
# allow the container to be started with `--user`
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
case " $* " in *" -v "*|*" --version "*|*" -h "*|*" --help "*|*" --test-memory "*) informational=1 ;; esac
if [ "$1" = 'redis-server' ] && [ -z "${informational:-}" ]; then
    shift
    if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
        conf=$1; shift
        set -- redis-server "$conf" --protected-mode no "$@"
    else
        set -- redis-server --protected-mode no "$@"
    fi
fi
um="$(umask)"
if [ "$um" = '0022' ]; then
    umask 0077
fi
exec "$@"
