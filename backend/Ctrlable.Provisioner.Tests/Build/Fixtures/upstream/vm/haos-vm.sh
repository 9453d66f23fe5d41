#!/usr/bin/env bash
# Test fixture (see ../README.md): the build performs the HAOS steps itself; this must never run.
echo "fixture vm/haos-vm.sh ran, which the build must never do" >&2
exit 99
