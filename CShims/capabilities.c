// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include "cshims.h"

#include <sys/capability.h>

int skiff_last_capability(void)
{
    /* libcap asks the running kernel (cap_last_cap), so a config written on a newer
     * kernel can be told apart from a name that is no capability at all. */
    int bits = (int)cap_max_bits();
    return bits > 0 ? bits - 1 : (int)CAP_LAST_CAP;
}
