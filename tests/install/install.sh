#!/usr/bin/env bash
# install.sh SRCDIR - libuvfs as a program outside the tree sees it.
#
# Builds SRCDIR in a fresh, uninstrumented configuration, installs it into a
# DESTDIR and then, with nothing but pkg-config pointed into the DESTDIR:
#   - checks the installed files: the headers, uvfs.pc, libuvfs.so with a
#     versioned SONAME (libuvfs.so.MAJOR);
#   - checks what the library exports: only the public API (uvfs_*,
#     p9srv_*, the codec's p9_*), none of the internals (gate_open,
#     file_read, path_get, ...), and no initial-exec TLS (no STATIC_TLS);
#   - builds examples/embed.c and examples/hello_9p.c with
#     `cc $(pkg-config --cflags --libs uvfs)` and -Wall -Wextra -Werror,
#     runs embed (busy, holder, forced unmount, EIO), then hello_9p on a
#     Unix socket and embed mounting it through the 9P client driver;
#   - with the NFS driver (libnfs found: uvfs/nfs.h installed): checks
#     that libuvfs exports uvfs_nfs_register and needs libnfs, and runs
#     embed against an NFS export (tests/nfs/ganesha.sh: nfs-ganesha in a
#     network namespace of its own; without root or ganesha that run is
#     left out, and the output says so);
#   - loads the library with dlopen (dlopen.py: Python's ctypes) and uses
#     it: a namespace, a memfs mount, a file written and read back.
# Exit 0 pass, 1 fail, 77 skip (a tool missing).
set -u
src=$(cd "${1:?usage: install.sh SRCDIR}" && pwd) || exit 1
here=$(cd "$(dirname "$0")" && pwd)

for tool in meson ninja pkg-config cc readelf nm objcopy python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool is not installed"
		exit 77
	fi
done

tmp=$(mktemp -d /tmp/uvfs-install.XXXXXX) || exit 1
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

# The sanitizers of the tree's own build must not leak into this one.
unset ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS
# The configuration of a package builder: no tests.
meson setup "$tmp/build" "$src" --prefix=/usr -Dbuildtype=debugoptimized \
	-Dtests=disabled >"$tmp/setup.log" 2>&1 ||
	{ cat "$tmp/setup.log"; fail "meson setup"; }
ninja -C "$tmp/build" >"$tmp/build.log" 2>&1 ||
	{ tail -40 "$tmp/build.log"; fail "build"; }
DESTDIR=$tmp/dest meson install -C "$tmp/build" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "meson install"; }

# ---- the installed files ----
dest=$tmp/dest
pc=$(find "$dest" -name uvfs.pc | head -1)
[ -n "$pc" ] || fail "no uvfs.pc installed"
for h in uvfs.h fs.h 9p.h p9srv.h p9.h; do
	[ -f "$dest/usr/include/uvfs/$h" ] || fail "header uvfs/$h not installed"
done
# the programs, their man pages, completion and unit (with libfuse3)
have_uvfsd=
[ -x "$dest/usr/sbin/uvfsd" ] && have_uvfsd=1
if [ -n "$have_uvfsd" ]; then
	for f in bin/uvfs bin/uvfs-hostfs share/man/man1/uvfs.1 \
		 share/man/man8/uvfsd.8 share/bash-completion/completions/uvfs \
		 share/bash-completion/completions/uvfsd \
		 lib/systemd/system/uvfsd@.service; do
		[ -e "$dest/usr/$f" ] || fail "$f not installed"
	done
	grep -q '^ExecStart=/usr/sbin/uvfsd ' "$dest/usr/lib/systemd/system/uvfsd@.service" ||
		fail "the unit does not run the installed uvfsd"
	if command -v man >/dev/null; then
		man -l "$dest/usr/share/man/man8/uvfsd.8" 2>/dev/null |
			grep -q 'fuse.uvfsd' || fail "uvfsd(8) does not render"
	fi
	bash -n "$dest/usr/share/bash-completion/completions/uvfs" ||
		fail "the completion is not valid bash"
else
	echo "(libfuse3 not found: no uvfsd, uvfs, man pages, unit)"
fi
export PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_LIBDIR=$PKG_CONFIG_PATH   # nothing from the system's
version=$(pkg-config --modversion uvfs) || fail "pkg-config --modversion uvfs"
libdir=$(dirname "$(dirname "$pc")")   # LIBDIR/pkgconfig/uvfs.pc
major=${version%%.*}
lib=$libdir/libuvfs.so.$major
[ -f "$lib" ] || fail "$lib not installed (version $version)"
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libuvfs.so.$major" ] ||
	fail "SONAME is '$soname', not libuvfs.so.$major"
echo "installed: uvfs $version, $soname, $(basename "$pc")"

# nothing else: no test, benchmark or example program, no static archive
# of the core, no internal header
rel=${libdir#"$dest"/}
(cd "$dest" && find . ! -type d | sed 's|^\./||' | sort) >"$tmp/files"
unexpected=$(grep -v -x \
	-e 'usr/bin/uvfs' -e 'usr/bin/uvfs-hostfs' -e 'usr/sbin/uvfsd' \
	-e 'usr/include/uvfs/\(uvfs\|fs\|9p\|p9srv\|p9\|nfs\)\.h' \
	-e "$rel/libuvfs\\.so\\(\\.$major\\(\\.[0-9.]*\\)\\?\\)\\?" \
	-e "$rel/libuvfs-sys\\.so\\(\\.[0-9.]*\\)\\?" \
	-e "$rel/pkgconfig/uvfs\\.pc" \
	-e 'usr/share/man/man1/uvfs\.1' -e 'usr/share/man/man8/uvfsd\.8' \
	-e 'usr/share/bash-completion/completions/uvfsd\?' \
	-e '\(usr/\)\?lib/systemd/system/uvfsd@\.service' "$tmp/files")
[ -z "$unexpected" ] || fail "installed but not the product's: $unexpected"
# no path of the build directory in the programs (a reproducible build;
# the build tree's uvfsd finds its uvfs-hostfs from where it is).  Their
# debug information names it (a package moves that to -dbgsym; source
# paths in assertions are a packager's -ffile-prefix-map), so it goes first.
for f in usr/sbin/uvfsd usr/bin/uvfs usr/bin/uvfs-hostfs; do
	objcopy --strip-debug "$dest/$f" "$tmp/stripped" ||
		fail "objcopy --strip-debug $f"
	grep -q -a -F "$tmp/build" "$tmp/stripped" &&
		fail "$f holds the build directory: $(strings "$tmp/stripped" | grep -F "$tmp/build" | head -3)"
done
echo "installed: $(wc -l <"$tmp/files") files, none from tests or bench"

# ---- what it exports ----
nm -D --defined-only "$lib" | awk '$2 ~ /[TDBRVW]/ { print $3 }' |
	sed 's/@.*//' | sort -u >"$tmp/exports"
n=$(wc -l <"$tmp/exports")
[ "$n" -gt 50 ] || fail "only $n symbols exported"
grep -q '^uvfs_mount$' "$tmp/exports" || fail "uvfs_mount not exported"
grep -q '^uvfs_9p_register$' "$tmp/exports" || fail "uvfs_9p_register not exported"
grep -q '^p9srv_serve_unix$' "$tmp/exports" || fail "p9srv_serve_unix not exported"
bad=$(grep -v -e '^uvfs_' -e '^p9srv_' -e '^p9_' -e '^UVFS_' "$tmp/exports")
[ -z "$bad" ] || fail "internal symbols exported: $(echo $bad | head -c 300)"
grep -q -x 'uvfs_panic' "$tmp/exports" && fail "uvfs_panic exported"
readelf -d "$lib" | grep -q STATIC_TLS &&
	fail "libuvfs uses initial-exec TLS (STATIC_TLS): dlopen may fail"
# every one in the version node of lib/libuvfs.map (docs/install.md)
unversioned=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBRVW]/ { print $3 }' |
	grep -v '@@UVFS_0$')
[ -z "$unversioned" ] ||
	fail "exports outside the version node UVFS_0: $(echo $unversioned | head -c 300)"
echo "exports: $n symbols, all public, all UVFS_0; no static TLS"
# the system-call table's library, which libuvfs.so needs: versioned the
# same way, every export prefixed and in UVFS_SYS_0 (lib/util/meson.build)
slib=$libdir/libuvfs-sys.so.$major
[ -f "$slib" ] || fail "$slib not installed"
readelf -d "$lib" | grep -q "NEEDED.*\[libuvfs-sys\.so\.$major\]" ||
	fail "libuvfs.so.$major does not need libuvfs-sys.so.$major: $(readelf -d "$lib" | grep NEEDED)"
soname=$(readelf -d "$slib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libuvfs-sys.so.$major" ] ||
	fail "libuvfs-sys's SONAME is '$soname', not libuvfs-sys.so.$major"
bad=$(nm -D --defined-only "$slib" | awk '$2 ~ /[TDBRVW]/ { print $3 }' |
	grep -v -e '^uvfs_sys@@UVFS_SYS_0$' -e '^uvfs_sys_[a-z_]*@@UVFS_SYS_0$')
[ -z "$bad" ] ||
	fail "libuvfs-sys exports outside uvfs_sys*@@UVFS_SYS_0: $(echo $bad | head -c 300)"
echo "libuvfs-sys: $soname, every export uvfs_sys* in UVFS_SYS_0"

# ---- the examples, built with pkg-config only ----
cflags=$(pkg-config --cflags uvfs) || fail "pkg-config --cflags"
libs=$(pkg-config --libs uvfs) || fail "pkg-config --libs"
for ex in embed hello_9p; do
	# shellcheck disable=SC2086
	cc -std=gnu11 -Wall -Wextra -Werror -o "$tmp/$ex" \
		"$src/examples/$ex.c" $cflags $libs ||
		fail "examples/$ex.c does not build with pkg-config"
done
# every installed header in a C++ program, which links (extern "C")
if command -v c++ >/dev/null; then
	hdrs=$(cd "$dest/usr/include" && ls uvfs/*.h)
	{
		for h in $hdrs; do echo "#include <$h>"; done
		echo 'int main() { struct uvfs *u = nullptr;'
		echo '  if (uvfs_new(nullptr, &u) == 0) uvfs_free(u);'
		echo '  return uvfs_thread_where() == nullptr ||'
		echo '         p9srv_req_tag(nullptr) == 1; }'
	} >"$tmp/cxx.cc"
	# shellcheck disable=SC2086
	c++ -Wall -Wextra -Werror -o "$tmp/cxx" "$tmp/cxx.cc" $cflags $libs ||
		fail "the installed headers ($(echo $hdrs)) do not build into a C++ program"
fi
export LD_LIBRARY_PATH=$libdir
if [ -x "$dest/usr/bin/uvfs" ]; then
	v=$("$dest/usr/bin/uvfs" --version) || fail "installed uvfs --version"
	[ "$v" = "uvfs $version" ] || fail "uvfs --version: $v"
	"$dest/usr/bin/uvfs" mount --help | grep -q -- '-t hostfs' ||
		fail "installed uvfs mount --help lacks the types"
fi
out=$("$tmp/embed" 2>&1) || fail "embed: exit $?: $out"
echo "$out"
grep -q '^umount: Device or resource busy$' <<<"$out" || fail "embed: no EBUSY"
grep -q '^  holder: file fd [0-9]* /mnt/hello$' <<<"$out" ||
	fail "embed: the holder is not named"
grep -q '^read: Input/output error$' <<<"$out" || fail "embed: no EIO"

sock=$tmp/hello.sock
"$tmp/hello_9p" "unix:$sock" &
server=$!
for _ in $(seq 100); do
	[ -S "$sock" ] && break
	kill -0 "$server" 2>/dev/null || fail "hello_9p exited"
	sleep 0.1
done
[ -S "$sock" ] || fail "hello_9p made no socket in 10 s"
mode=$(stat -c %a "$sock")
[ $((8#$mode & 8#077)) -eq 0 ] || fail "socket mode $mode: not owner-only"
out=$("$tmp/embed" "unix:$sock" 2>&1) || fail "embed unix:: exit $?: $out"
grep -q "^9p unix:$sock: /srv/hello: Hello, world!$" <<<"$out" ||
	fail "embed did not read hello through hello_9p: $out"
echo "hello_9p: served /hello to embed"

# ---- the NFS driver, when built ----
if [ -f "$dest/usr/include/uvfs/nfs.h" ]; then
	grep -q '^uvfs_nfs_register$' "$tmp/exports" ||
		fail "uvfs/nfs.h installed but uvfs_nfs_register not exported"
	readelf -d "$lib" | grep -q 'NEEDED.*libnfs' ||
		fail "libuvfs has the NFS driver but does not need libnfs"
	# embed reads the export's "hello" through the driver
	# shellcheck disable=SC2016
	out=$("$src/tests/nfs/ganesha.sh" run -- bash -c \
		'echo "Hello, NFS!" >"$UVFS_NFS_DIR/hello" && "$1" "$UVFS_NFS_SOURCE"' \
		embed "$tmp/embed" 2>&1)
	rc=$?
	if [ $rc = 77 ]; then
		echo "(NFS example not run: $(grep SKIP <<<"$out" | head -1))"
	else
		[ $rc = 0 ] || fail "embed against an NFS export: exit $rc: $out"
		grep -q '^nfs nfs://.*: /srv/hello: Hello, NFS!$' <<<"$out" ||
			fail "embed did not read hello through the NFS driver: $out"
		echo "nfs: embed read /hello of an NFS export"
	fi
else
	grep -q '^uvfs_nfs_register$' "$tmp/exports" &&
		fail "uvfs_nfs_register exported but uvfs/nfs.h not installed"
	echo "(libnfs not found: no NFS driver in libuvfs)"
fi

# ---- dlopen ----
python3 "$here/dlopen.py" "$lib" || fail "dlopen.py"

# ---- uninstall: nothing left ----
DESTDIR=$dest ninja -C "$tmp/build" uninstall >"$tmp/uninstall.log" 2>&1 ||
	{ cat "$tmp/uninstall.log"; fail "uninstall"; }
left=$(find "$dest" ! -type d 2>/dev/null)
[ -z "$left" ] || fail "left after uninstall: $left"
echo "uninstall: nothing left"

# ---- the unit's directory, as a package chooses it ----
if [ -n "$have_uvfsd" ]; then
	# (with the system's pkg-config again: the build looks up systemd's
	# and bash-completion's directories when it is configured again)
	for d in /lib/systemd/system no; do
		env -u PKG_CONFIG_PATH -u PKG_CONFIG_SYSROOT_DIR -u PKG_CONFIG_LIBDIR \
			meson configure "$tmp/build" -Dsystemdsystemunitdir=$d \
			>"$tmp/conf.log" 2>&1 || { cat "$tmp/conf.log"; fail "meson configure"; }
		rm -rf "$tmp/dest2"
		env -u PKG_CONFIG_PATH -u PKG_CONFIG_SYSROOT_DIR -u PKG_CONFIG_LIBDIR \
			DESTDIR="$tmp/dest2" meson install -C "$tmp/build" \
			>"$tmp/install.log" 2>&1 ||
			{ cat "$tmp/install.log"; fail "meson install (unit dir $d)"; }
		units=$(cd "$tmp/dest2" && find . -name 'uvfsd@.service')
		case $d in
		no) [ -z "$units" ] || fail "-Dsystemdsystemunitdir=no installed $units" ;;
		*) [ "$units" = ".$d/uvfsd@.service" ] ||
			fail "-Dsystemdsystemunitdir=$d installed '$units'" ;;
		esac
	done
	echo "unit directory: as -Dsystemdsystemunitdir says (/lib/systemd/system, no)"
fi
echo "PASS"
