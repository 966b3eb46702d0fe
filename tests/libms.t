#!/bin/sh
# The C unit tests of libms.
exec "${MS_BUILD:-$(dirname "$0")/../build}/tests/libms_test"
