#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# skiff as the CNI plugin, for the benchmark: one ADD or DEL as a CNI runtime makes it (the
# same shell start as bench/cni-task.sh, so the two compare plugin to plugin).
#   skiff-cni.sh ADD|DEL CONTAINER-ID NETNS-PATH SKIFF CONFIG-FILE
set -eu
CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=$3 CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin "$4" < "$5" > /dev/null
