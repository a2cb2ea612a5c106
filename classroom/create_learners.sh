#!/bin/sh
# Create the workshop's learners as system users (run as root), each with a private home (0700).
#   sudo classroom/create_learners.sh 30                # learner01 ... learner30
#   sudo classroom/create_learners.sh --passwords 30    # also set random passwords (CLASSROOM_AUTH=pam),
#                                                       # printed as "name password" lines to hand out
#   sudo classroom/create_learners.sh --names ana,ben   # given names instead of learnerNN
#   sudo classroom/create_learners.sh --remove 30       # after the workshop: delete them and their homes
# Existing users are left as they are (running it twice is safe).
set -eu
passwords=0 remove=0 names=""
while [ $# -gt 0 ]; do
  case "$1" in
    --passwords) passwords=1 ;;
    --remove) remove=1 ;;
    --names) shift; names=$(echo "$1" | tr ',' ' ') ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) [ -z "$names" ] && names=$(i=1; while [ "$i" -le "$1" ]; do printf 'learner%02d ' "$i"; i=$((i + 1)); done) ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "create_learners.sh: run as root (it creates system users)" >&2; exit 1; }
[ -n "$names" ] || { echo "usage: create_learners.sh [--passwords|--remove] N | --names a,b" >&2; exit 2; }
for name in $names; do
  if [ "$remove" = 1 ]; then
    if id "$name" >/dev/null 2>&1; then pkill -u "$name" 2>/dev/null || true; userdel -r "$name" 2>/dev/null || userdel "$name"; fi
    continue
  fi
  id "$name" >/dev/null 2>&1 || useradd --create-home --user-group --shell /bin/bash "$name"
  chmod 0700 "$(getent passwd "$name" | cut -d: -f6)"
  if [ "$passwords" = 1 ]; then
    pw=$(head -c 9 /dev/urandom | base64 | tr -d '/+=' | cut -c1-10)
    echo "$name:$pw" | chpasswd
    echo "$name $pw"
  fi
done
