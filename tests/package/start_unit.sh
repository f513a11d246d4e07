#!/usr/bin/env bash
# tests/package/start_unit.sh UNIT - start the service of systemd unit
# file UNIT the way systemd would, on a machine where systemd is not
# PID 1 (a CI container), for the package tests:
#   RuntimeDirectory= under /run and LogsDirectory= under /var/log, owned
#   by User:Group with their *Mode=; EnvironmentFile= ('-': optional);
#   UMask=; each ExecStartPre= in order ('+': as root, else as User and
#   Group); then ExecStart= as User and Group, exec'd: this script's pid
#   becomes the service's main pid.
# Only what tallyd.service uses is understood; an ExecStartPre that fails
# stops here with exit status 1, as systemd would not start the service.

set -euo pipefail

unit=${1:?usage: start_unit.sh UNIT}
get() { sed -n "s/^$1=//p" "$unit"; }

user=$(get User)
group=$(get Group)
for kind in Runtime:/run Logs:/var/log; do
	name=$(get "${kind%%:*}Directory")
	[ -n "$name" ] || continue
	dir=${kind#*:}/$name
	mkdir -p "$dir"
	chown "$user:$group" "$dir"
	chmod "$(get "${kind%%:*}DirectoryMode")" "$dir"
done
envfile=$(get EnvironmentFile)
case "$envfile" in
-*)	envfile=${envfile#-}; [ -f "$envfile" ] || envfile= ;;
esac
if [ -n "$envfile" ]; then
	set -a
	# shellcheck disable=SC1090
	. "$envfile"
	set +a
fi
u=$(get UMask)
[ -z "$u" ] || umask "$u"

# as_user CMD... - CMD as the unit's User and Group
as_user() {
	setpriv --reuid="$user" --regid="$group" --init-groups \
	    --inh-caps=-all "$@"
}

while IFS= read -r pre; do
	[ -n "$pre" ] || continue
	# shellcheck disable=SC2086
	case "$pre" in
	+*)	${pre#+} ;;
	*)	as_user $pre ;;
	esac || { echo "start_unit: ExecStartPre=$pre failed" >&2; exit 1; }
	echo "start_unit: ExecStartPre=$pre: ok" >&2
done < <(get ExecStartPre)
# shellcheck disable=SC2046
exec setpriv --reuid="$user" --regid="$group" --init-groups \
    --inh-caps=-all $(get ExecStart)
