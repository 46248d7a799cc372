#!/usr/bin/env bash
# completion.sh UVFSD UVFS SRCDIR - the bash completion (completion/uvfs)
# completes as it should, run in bash with bash-completion loaded and this
# build's programs first in PATH: commands, the types and each type's
# options from `uvfs mount --help`, after a comma too, mounts' columns,
# each command's flags, uvfsd's -o options and long options.
# Exit 0 pass, 1 fail, 77 skip (bash-completion not installed).
set -u
uvfsd=$(realpath "${1:?usage: completion.sh UVFSD UVFS SRCDIR}")
uvfs=$(realpath "${2:?}")
src=${3:?}
bc=/usr/share/bash-completion/bash_completion
[ -r "$bc" ] || { echo "SKIP: bash-completion is not installed"; exit 77; }
tmp=$(mktemp -d /tmp/uvfs-completion.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
ln -s "$uvfsd" "$tmp/uvfsd" && ln -s "$uvfs" "$tmp/uvfs" || exit 1
export PATH=$tmp:$PATH

# shellcheck disable=SC1090
. "$bc"
# shellcheck disable=SC1091
. "$src/completion/uvfs"
compopt() { :; }        # outside a real completion: nothing to set
status=0
# expect LINE WORD...: TAB at the end of LINE offers at least these WORDs
# (-x WORD: and not this one)
expect() {
	local line=$1 w f
	shift
	COMP_LINE=$line COMP_POINT=${#line}
	read -ra COMP_WORDS <<<"$line"
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	f=_uvfs
	[ "${COMP_WORDS[0]}" = uvfsd ] && f=_uvfsd
	"$f" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
		"${COMP_WORDS[COMP_CWORD - 1]}"
	local got=" ${COMPREPLY[*]} "
	while [ $# -gt 0 ]; do
		if [ "$1" = -x ]; then
			[[ $got == *" $2 "* ]] && { echo "FAIL: [$line] offers $2:$got"; status=1; }
			shift 2
			continue
		fi
		[[ $got == *" $1 "* ]] || { echo "FAIL: [$line] lacks $1:$got"; status=1; }
		shift
	done
}

expect "uvfs " mount umount revoke suspend resume mounts holders stats \
	servers mountpoint shutdown
expect "uvfs mo" mount mounts mountpoint -x umount
expect "uvfs -" -m --mount -S --socket --help --version
expect "uvfs -m /tmp mounts -" --output --raw --noheadings --ascii --json
expect "uvfs mount -t " memfs 9p hostfs
expect "uvfs mount -t memfs -o " ro rw deadline= size= -x aname=
expect "uvfs mount -t 9p -o aname=x,ti" aname=x,timeout=
expect "uvfs mounts -o TARGET,FS" TARGET,FSTYPE
expect "uvfs umount -" -f -l -v
expect "uvfs holders -" -v --verbose --json
expect "uvfs mountpoint -" -q --quiet
expect "uvfs stats -" --json
expect "uvfsd -o wr" writeback
expect "uvfsd -o allow_other,max" allow_other,max_threads=
expect "uvfsd -o " allow_other xattr writeback wb_limit= clone_fd splice \
	root= socket= mtab=
expect "uvfsd --" --foreground --debug --root --socket --mtab --help --version
[ $status = 0 ] && echo PASS
exit $status
